package tokenizer

import "strings"

// byteToRune is the GPT-2 byte-to-unicode map: printable bytes map to
// themselves, the other 68 bytes to U+0100 onwards in increasing order.
var byteToRune [256]rune

// runeToByte inverts byteToRune.
var runeToByte = map[rune]byte{}

func init() {
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = next
			next++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// ByteLevelEncode maps raw bytes to the GPT-2 byte-level alphabet used by
// byte-level BPE vocabularies (space -> "Ġ", newline -> "Ċ").
func ByteLevelEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

// ByteLevelDecode inverts ByteLevelEncode. Characters outside the byte-level
// alphabet are kept as their UTF-8 encoding.
func ByteLevelDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if c, ok := runeToByte[r]; ok {
			b.WriteByte(c)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// merge is one BPE merge rule: the rank and the symbol it produces.
type merge struct {
	rank   int32
	result int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

const maxCache = 1 << 16 // pre-token cache entries before it is reset

func (t *Tokenizer) initBPE(merges [][2]string) {
	n := int32(len(t.tokens))
	extraIDs := map[string]int32{}
	sym := func(s string) int32 {
		if id, ok := t.ids[s]; ok {
			return id
		}
		if id, ok := extraIDs[s]; ok {
			return id
		}
		id := n + int32(len(t.extra))
		t.extra = append(t.extra, s)
		extraIDs[s] = id
		return id
	}
	for b := 0; b < 256; b++ {
		t.byteSym[b] = sym(string(byteToRune[b]))
	}
	t.merges = make(map[uint64]merge, len(merges))
	var buf []byte
	for rank, m := range merges {
		a, b := sym(m[0]), sym(m[1])
		k := pairKey(a, b)
		if _, dup := t.merges[k]; dup {
			continue // the first (lowest) rank wins
		}
		buf = append(append(buf[:0], m[0]...), m[1]...)
		r, ok := t.ids[string(buf)] // no allocation for the lookup
		if !ok {
			r = sym(string(buf))
		}
		t.merges[k] = merge{rank: int32(rank), result: r}
	}
	t.rawIDs = make(map[string]int32, len(t.tokens))
	for i := range t.tokens {
		if t.types[i] == TypeNormal {
			t.rawIDs[t.pieces[i]] = int32(i)
		}
	}
	t.cache = &wordCache{m: make(map[string][]int32)}
}

// encodeBPE appends the ids of text (no special tokens in it) to out.
func (t *Tokenizer) encodeBPE(text string, out []int32) []int32 {
	next := nextGPT2
	if t.pre == PreLlama3 {
		next = nextLlama3
	}
	var scratch bpeScratch
	for i := 0; i < len(text); {
		j := next(text, i)
		out = t.encodeWord(text[i:j], out, &scratch)
		i = j
	}
	return out
}

// encodeWord appends the ids of one pre-token.
func (t *Tokenizer) encodeWord(w string, out []int32, s *bpeScratch) []int32 {
	if t.ignoreMerges {
		if id, ok := t.rawIDs[w]; ok {
			return append(out, id)
		}
	}
	cacheable := len(w) <= 64
	if cacheable {
		t.cache.mu.Lock()
		ids, ok := t.cache.m[w]
		t.cache.mu.Unlock()
		if ok {
			return append(out, ids...)
		}
	}
	start := len(out)
	out = t.bpe(w, out, s)
	if cacheable {
		ids := append([]int32(nil), out[start:]...)
		t.cache.mu.Lock()
		if len(t.cache.m) >= maxCache {
			clear(t.cache.m)
		}
		t.cache.m[w] = ids
		t.cache.mu.Unlock()
	}
	return out
}

// bpeSym is one symbol of a word being merged: a doubly linked list over the
// word's bytes.
type bpeSym struct {
	id         int32
	start, end int32 // byte span in the word
	prev, next int32 // -1 at the ends
}

// bpeCand is a candidate merge of the symbols at left and right.
type bpeCand struct {
	rank        int32
	left, right int32
	leftID      int32
	rightID     int32
}

type bpeScratch struct {
	syms []bpeSym
	heap []bpeCand
}

func candLess(a, b bpeCand) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

func (s *bpeScratch) push(c bpeCand) {
	h := append(s.heap, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.heap = h
}

func (s *bpeScratch) pop() bpeCand {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && candLess(h[r], h[l]) {
			m = r
		}
		if !candLess(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}

// bpe merges the bytes of w by rank (lowest first, leftmost on ties) and
// appends the resulting ids. A final symbol that is not in the vocabulary is
// emitted as the tokens of its bytes.
func (t *Tokenizer) bpe(w string, out []int32, s *bpeScratch) []int32 {
	syms := s.syms[:0]
	for i := 0; i < len(w); i++ {
		syms = append(syms, bpeSym{id: t.byteSym[w[i]], start: int32(i), end: int32(i + 1), prev: int32(i - 1), next: int32(i + 1)})
	}
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	s.heap = s.heap[:0]
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		if m, ok := t.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			s.push(bpeCand{rank: m.rank, left: l, right: r, leftID: syms[l].id, rightID: syms[r].id})
		}
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for len(s.heap) > 0 {
		c := s.pop()
		l, r := &syms[c.left], &syms[c.right]
		if l.id != c.leftID || r.id != c.rightID || l.next != c.right || l.start == l.end || r.start == r.end {
			continue // stale
		}
		l.id = t.merges[pairKey(c.leftID, c.rightID)].result
		l.end = r.end
		l.next = r.next
		r.start = r.end // dead
		if r.next >= 0 {
			syms[r.next].prev = c.left
		}
		try(l.prev, c.left)
		try(c.left, l.next)
	}
	n := int32(len(t.tokens))
	for i := int32(0); i >= 0; i = syms[i].next {
		sy := syms[i]
		if sy.id < n {
			out = append(out, sy.id)
			continue
		}
		for k := sy.start; k < sy.end; k++ {
			if id := t.byteSym[w[k]]; id < n {
				out = append(out, id)
			} else if t.unk >= 0 {
				out = append(out, t.unk)
			}
		}
	}
	s.syms = syms
	return out
}
