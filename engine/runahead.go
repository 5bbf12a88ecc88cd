package engine

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

const (
	// MaxRunAhead is the most greedy decode steps chained in one program
	// (GenerateOptions.RunAhead), and the length of State.picks.
	MaxRunAhead = 64
	// autoBurst and burstTime bound the bursts GenerateOptions.RunAhead 0
	// chooses: at most autoBurst steps, and about burstTime of them at the
	// last measured time per step, so that streamed text still arrives in
	// small pieces on a slow device.
	autoBurst = 16
	burstTime = 25 * time.Millisecond
)

// greedySel is a greedy step's selection: the best candidate.
var greedySel = Selection{K: 1, Penalty: 1}

// errNoBurst says that the backend could not capture chained steps; the
// caller evaluates them one by one.
var errNoBurst = errors.New("greedy decode steps cannot be chained on this backend")

// runAhead returns the most greedy decode steps Generate may chain on the
// device at a time under opt (0: none), given its sampler and whether
// logits are biased or log probabilities wanted (lp != nil). A state
// joined to a Batcher runs ahead only while it generates alone
// (State.alone).
func (s *State) runAhead(opt GenerateOptions, smp *Sampler, lp *logprober) int {
	if opt.RunAhead == 1 || opt.RunAhead < 0 || lp != nil || smp.Selection() != greedySel || !s.canBurst() {
		return 0
	}
	if opt.RunAhead == 0 {
		return autoBurst
	}
	return min(opt.RunAhead, MaxRunAhead)
}

// canBurst reports whether greedy decode steps can be chained on the
// device: a replaying backend with compute.Advancer, and nothing that
// looks at a step's intermediates.
func (s *State) canBurst() bool {
	be := s.m.Backend
	_, rp := be.(compute.Replayer)
	_, adv := be.(compute.Advancer)
	return rp && adv && !s.noReplay && !s.noBurst && s.Trace == nil && !s.Debug.any()
}

// burstLen returns how many greedy steps to chain next (below 2: one step
// at a time): a power of two up to ahead, at most want (the tokens still
// wanted, < 0: any) and the positions left, and with an automatic ahead
// (auto) about burstTime at perStep per step (0: not measured yet).
func (s *State) burstLen(ahead, want int, auto bool, perStep time.Duration) int {
	n := min(ahead, s.NCtx-s.Pos)
	if want >= 0 {
		n = min(n, want)
	}
	if auto {
		if perStep <= 0 {
			return 1
		}
		n = min(n, int(burstTime/perStep))
	}
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// burst evaluates id at Pos and the n-1 tokens greedy decoding picks after
// it, chained on the device in one program (compute.Advancer), and returns
// the n tokens the steps picked (in a buffer the next burst overwrites):
// each but the last is then in the cache, and Pos has advanced by n. It
// returns errNoBurst, having run nothing, when the backend cannot capture
// the chain.
func (s *State) burst(id int32, n int) ([]int32, error) {
	if n < 1 || n > MaxRunAhead || s.Pos+n > s.NCtx {
		return nil, fmt.Errorf("a burst of %d steps at position %d (at most %d, context %d)", n, s.Pos, MaxRunAhead, s.NCtx)
	}
	if err := s.checkIDs([]int32{id}); err != nil {
		return nil, err
	}
	defer s.exclusive()()
	be := s.m.Backend
	rp, ok1 := be.(compute.Replayer)
	adv, ok2 := be.(compute.Advancer)
	if !ok1 || !ok2 {
		return nil, errNoBurst
	}
	if s.picks == nil {
		t, err := be.Alloc(gguf.I32, MaxRunAhead)
		if err != nil {
			return nil, err
		}
		s.picks = t
	}
	if err := s.writeInputs([]int32{id}); err != nil {
		return nil, err
	}
	if err := s.prepareSelection(greedySel, nil); err != nil {
		return nil, err
	}
	ids, pos, best := be.Rows(s.ids, 0, 1), be.Rows(s.pos, 0, 1), s.cands[greedySel.K]
	prog, err := s.program(rp, progKey{sel: greedySel, steps: n}, func() {
		for range n {
			s.ops(1, headLast, greedySel)
			adv.Advance(ids, pos, best, s.picks)
		}
	})
	if errors.Is(err, compute.ErrNotCapturable) {
		s.noBurst = true
		return nil, errNoBurst
	}
	if err != nil {
		return nil, err
	}
	if err := prog.Run(); err != nil {
		return nil, err
	}
	s.candRaw = slices.Grow(s.candRaw[:0], MaxRunAhead)[:MaxRunAhead]
	if err := be.ReadInts(s.picks, s.candRaw); err != nil {
		return nil, err
	}
	s.burstBuf = s.burstBuf[:0]
	for i := range n {
		s.burstBuf = append(s.burstBuf, s.candRaw[(s.Pos+i)%MaxRunAhead])
	}
	s.Pos += n
	return s.burstBuf, nil
}
