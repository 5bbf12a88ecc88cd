package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Batcher runs the decode steps of several States of one model that
// generate at the same time as one step of several rows: the weights are
// read once for all of them, so that on a memory-bound CPU, and on a GPU
// whose decode step waits on latency rather than bandwidth, several
// sequences decode in little more time than one. Each row attends over its
// own state's KV cache at its own position; each state gets the candidates
// its own selection asks for, the same ones a step of its own would give,
// so Generate's sampling, stops and callbacks are unchanged.
//
// A state joined to a Batcher (Join) may be used from its own goroutine
// while the others are used from theirs: the Batcher orders all their
// backend work. A decode step waits until every state inside Generate has
// one ready, or until MaxWait has passed since the first, and runs them
// together (at most the Batcher's rows); a prompt's batches, and steps of
// states outside Generate, run alone between them. A lone decode step runs
// as it would without the Batcher (captured and replayed, with the
// screened head). A joined state runs ahead (GenerateOptions.RunAhead) or
// looks up drafts (GenerateOptions.Lookup) only while no other joined
// state is generating; with others, each step is one token per sequence.
type Batcher struct {
	// MaxWait is how long a decode step waits for the other generating
	// states' (DefaultMaxWait; set before the first step).
	MaxWait time.Duration

	m    *Model
	sc   *State // the activations of a step of several rows
	rows int

	mu       sync.Mutex
	cond     *sync.Cond
	busy     bool          // the backend is in use
	active   int           // joined states inside Generate
	queue    []*decodeStep // decode steps waiting
	deadline time.Time     // when the queue's first step stops waiting for others
	stats    BatcherStats  // guarded by mu
	idsBuf   []int32       // the step's ids and positions
	segs     []seg         // the step's sequences
	steps    []*decodeStep // the step's decode steps
	timer    *time.Timer   // wakes the waiters at deadline
	excl     int           // goroutines that wait for or hold the backend for other work
	waiting  int           // of them, those that wait
	turn     bool          // the backend goes next to other work than decode steps
	closed   bool
	ids      int                        // states joined so far
	progs    map[string]compute.Program // captured steps by their states and selections
	key      []byte
	noReplay bool // the steps could not be captured
}

// DefaultMaxWait is how long a Batcher's decode step waits by default for
// the steps of the other states generating: much more than one of them
// takes, after streaming its token, to ask for its next step.
const DefaultMaxWait = 2 * time.Millisecond

// BatcherStats count a Batcher's decode steps.
type BatcherStats struct {
	Steps int64 // steps run
	Rows  int64 // decode steps in them (sequences' tokens)
	Max   int   // the most rows in one step
}

// decodeStep is one state's decode step waiting in a Batcher.
type decodeStep struct {
	s       *State
	id      [1]int32
	sel     Selection
	history []int32
	cands   []compute.Candidate
	err     error
	done    bool
}

// NewBatcher returns a Batcher for up to rows sequences per step (at least
// 2). Its activations are a state's for rows tokens (whose own KV cache of
// rows positions goes unused).
func (m *Model) NewBatcher(rows int) (*Batcher, error) {
	if rows < 2 {
		return nil, fmt.Errorf("a batcher of %d rows: want at least 2", rows)
	}
	sc, err := m.NewState(rows, rows, gguf.F16)
	if err != nil {
		return nil, fmt.Errorf("batched decoding of %d sequences: %w", rows, err)
	}
	if err := sc.growLogits(rows); err != nil {
		sc.Close()
		return nil, fmt.Errorf("batched decoding of %d sequences: %w", rows, err)
	}
	b := &Batcher{m: m, sc: sc, rows: rows, MaxWait: DefaultMaxWait, progs: map[string]compute.Program{}}
	b.cond = sync.NewCond(&b.mu)
	return b, nil
}

// Join makes s's backend work go through b (see Batcher). s must be a
// state of b's model, used by one goroutine at a time, and not joined to
// another Batcher.
func (b *Batcher) Join(s *State) error {
	if s.m != b.m {
		return errors.New("batcher: the state is of another model")
	}
	if s.batcher != nil && s.batcher != b {
		return errors.New("batcher: the state is joined to another batcher")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.batcher == nil {
		s.batcher, s.batchID = b, b.ids
		b.ids++
	}
	return nil
}

// Stats returns the steps run so far.
func (b *Batcher) Stats() BatcherStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Close frees the Batcher's scratch state. No joined state may be in use.
func (b *Batcher) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.releaseProgs()
		b.sc.Close()
	}
}

// enter and leave bracket a joined state's Generate.
func (b *Batcher) enter() {
	b.mu.Lock()
	b.active++
	b.mu.Unlock()
}

func (b *Batcher) leave() {
	b.mu.Lock()
	b.active--
	b.cond.Broadcast() // the waiting steps may be all there are now
	b.mu.Unlock()
}

// exclusive waits for the backend, takes it, and returns the function that
// gives it back. The waiting decode steps and the waiting other work take
// turns: a long prompt's batches alternate with the other sequences'
// decode steps.
func (b *Batcher) exclusive() func() {
	b.mu.Lock()
	b.excl++
	b.waiting++
	b.cond.Broadcast() // the queue need not wait for this state's step
	for b.busy || len(b.queue) > 0 && !b.turn {
		b.cond.Wait()
	}
	b.waiting--
	b.turn = false
	b.busy = true
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.busy = false
		b.excl--
		b.arm()
		b.cond.Broadcast()
		b.mu.Unlock()
	}
}

// alone reports whether no other state joined to this one's Batcher is
// generating (true without a Batcher): a step of several tokens of this
// state alone (a lookup step, a burst of greedy steps) then holds up no
// one's decoding.
func (s *State) alone() bool {
	b := s.batcher
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active <= 1
}

// exclusive takes the backend for this state's work when it is joined to
// a Batcher, and returns the function that gives it back.
func (s *State) exclusive() func() {
	if s.batcher == nil {
		return func() {}
	}
	return s.batcher.exclusive()
}

// arm starts the queue's wait for the other states' steps, from now: when
// a step arrives at an idle backend, or the backend comes free. Called
// with mu held.
func (b *Batcher) arm() {
	if len(b.queue) == 0 {
		return
	}
	b.deadline = time.Now().Add(b.MaxWait)
	if b.timer == nil {
		b.timer = time.AfterFunc(b.MaxWait, b.wake)
	} else {
		b.timer.Reset(b.MaxWait)
	}
}

// ready reports whether the queue's steps should run now: the backend is
// free and every state generating has a step waiting (but those that wait
// for the backend for other work), the queue holds a full step, or it has
// waited MaxWait. Called with mu held.
func (b *Batcher) ready() bool {
	if b.busy || len(b.queue) == 0 || b.turn && b.waiting > 0 {
		return false
	}
	return len(b.queue) >= b.active-b.excl || len(b.queue) >= b.rows || !time.Now().Before(b.deadline)
}

// decode runs the decode step of id at s.Pos with s's selection, together
// with the other states' steps that are waiting, and returns s's
// candidates (State.next's for one token).
func (b *Batcher) decode(s *State, id int32, sel Selection, history []int32) ([]compute.Candidate, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := &s.dstep // a state has one step at a time
	*d = decodeStep{s: s, id: [1]int32{id}, sel: sel, history: history}
	b.queue = append(b.queue, d)
	if len(b.queue) == 1 && !b.busy {
		b.arm()
	}
	b.cond.Broadcast()
	for !d.done {
		if !b.ready() {
			b.cond.Wait()
			continue
		}
		// This goroutine runs the step for the waiting states.
		n := min(len(b.queue), b.rows)
		b.steps = append(b.steps[:0], b.queue[:n]...)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.busy = true
		b.mu.Unlock()
		err := b.run(b.steps)
		b.mu.Lock()
		b.busy = false
		b.stats.Steps++
		b.stats.Rows += int64(n)
		b.stats.Max = max(b.stats.Max, n)
		for _, x := range b.steps {
			if err != nil && x.err == nil {
				x.err = err
			}
			x.done = true
		}
		b.turn = b.waiting > 0 // other work goes next
		if len(b.queue) > 0 && len(b.queue) >= b.rows {
			b.deadline = time.Time{} // a full step waits for no one
		} else {
			b.arm()
		}
		b.cond.Broadcast()
	}
	return d.cands, d.err
}

// wake wakes the waiting steps at a deadline.
func (b *Batcher) wake() {
	b.mu.Lock()
	b.cond.Broadcast()
	b.mu.Unlock()
}

// run runs the decode steps ds as one step, the backend held: alone as
// State.next runs it, or as one step of len(ds) rows, each attending over
// its own state's cache. Each step's candidates (or error) and its state's
// Pos are set.
func (b *Batcher) run(ds []*decodeStep) error {
	if len(ds) == 1 {
		d := ds[0]
		s := d.s
		if d.err = s.eval(d.id[:], headLast, d.sel, d.history); d.err == nil {
			d.cands, d.err = s.candidates(d.sel, s.logits)
		}
		return nil
	}
	sc, be := b.sc, b.m.Backend
	n := len(ds)
	// The same states in the same order make the same step: in the order
	// they joined, so that a backend that replays captured steps finds it
	// again.
	slices.SortFunc(ds, func(x, y *decodeStep) int { return x.s.batchID - y.s.batchID })
	b.segs = b.segs[:0]
	b.idsBuf = b.idsBuf[:0]
	for i, d := range ds {
		if err := d.s.prepareSelection(d.sel, d.history); err != nil {
			return err
		}
		b.idsBuf = append(b.idsBuf, d.id[0])
		b.segs = append(b.segs, seg{st: d.s, row: i, n: 1, sel: d.sel})
	}
	for _, d := range ds {
		b.idsBuf = append(b.idsBuf, int32(d.s.Pos))
	}
	if err := be.WriteInts(be.Rows(sc.ids, 0, n), b.idsBuf[:n]); err != nil {
		return err
	}
	if err := be.WriteInts(be.Rows(sc.pos, 0, n), b.idsBuf[n:]); err != nil {
		return err
	}
	if err := b.step(n); err != nil {
		return err
	}
	for i, d := range ds {
		d.cands, d.err = d.s.candidates(d.sel, be.Rows(sc.logitsAll, i, 1))
		if d.err == nil {
			d.s.Pos++
		}
	}
	return nil
}

// maxBatchProgs bounds the captured steps a Batcher keeps: one per set of
// states decoding together and their selections.
const maxBatchProgs = 32

// step issues the ops of a step of n rows over b.segs, replaying the
// program captured for the same states and selections where the backend
// can (compute.Replayer).
func (b *Batcher) step(n int) error {
	be := b.m.Backend
	rp, ok := be.(compute.Replayer)
	if !ok || b.noReplay {
		b.sc.opsOf(n, headRows, b.segs)
		return be.Flush()
	}
	b.key = b.key[:0]
	for _, g := range b.segs {
		b.key = fmt.Appendf(b.key, "%d:%d:%x:%d,", g.st.batchID, g.sel.K, math.Float32bits(g.sel.Penalty), g.sel.Window)
	}
	prog := b.progs[string(b.key)]
	if prog == nil {
		segs := slices.Clone(b.segs)
		var err error
		prog, err = rp.Capture(func() { b.sc.opsOf(n, headRows, segs) })
		if errors.Is(err, compute.ErrNotCapturable) {
			slog.Debug("batched decode step not captured; issuing its ops every step", "err", err)
			b.noReplay = true
			b.sc.opsOf(n, headRows, b.segs)
			return be.Flush()
		}
		if err != nil {
			return err
		}
		if len(b.progs) >= maxBatchProgs {
			b.releaseProgs()
		}
		b.progs[string(b.key)] = prog
	}
	return prog.Run()
}

// releaseProgs frees the captured steps.
func (b *Batcher) releaseProgs() {
	for _, p := range b.progs {
		p.Release()
	}
	clear(b.progs)
}
