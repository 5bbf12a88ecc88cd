package tokenizer

import (
	"fmt"
	"strings"
)

// spaceMarker is SentencePiece's visible space, U+2581.
const spaceMarker = "\u2581"

// isByteToken reports whether s has the form <0xNN>.
func isByteToken(s string) bool {
	_, ok := parseByteToken(s)
	return ok
}

func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[3:5]) {
		v <<= 4
		switch {
		case '0' <= c && c <= '9':
			v |= int(c - '0')
		case 'A' <= c && c <= 'F':
			v |= int(c-'A') + 10
		case 'a' <= c && c <= 'f':
			v |= int(c-'a') + 10
		default:
			return 0, false
		}
	}
	return byte(v), true
}

func (t *Tokenizer) initSPM() {
	for b := 0; b < 256; b++ {
		t.byteTok[b] = -1
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteTok[b] = id
		} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
			t.byteTok[b] = id
		} else {
			t.byteTok[b] = t.unk
		}
	}
}

// utf8Len is the sequence length announced by a UTF-8 lead byte, as
// SentencePiece splits text (continuation bytes count as 1).
func utf8Len(c byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[c>>4]
}

type spmSym struct {
	start, n   int32 // byte span; n == 0 once merged away
	prev, next int32
}

type spmCand struct {
	score       float32
	left, right int32
	size        int32
}

// spmBetter orders candidates: highest score first, then leftmost.
func spmBetter(a, b spmCand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

type spmHeap []spmCand

func (h *spmHeap) push(c spmCand) {
	s := append(*h, c)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !spmBetter(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
	*h = s
}

func (h *spmHeap) pop() spmCand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && spmBetter(s[r], s[l]) {
			m = r
		}
		if !spmBetter(s[m], s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// encodeSPM appends the SentencePiece encoding of text (no special tokens in
// it). Spaces become U+2581; with prefix a space is prepended first. Adjacent
// symbols whose concatenation is a token are merged, highest score first;
// characters that never form a token fall back to <0xNN> byte tokens.
func (t *Tokenizer) encodeSPM(text string, prefix bool, out []int32) []int32 {
	if prefix {
		text = " " + text
	}
	text = strings.ReplaceAll(text, " ", spaceMarker)
	syms := make([]spmSym, 0, len(text))
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		syms = append(syms, spmSym{start: int32(off), n: int32(n), prev: int32(len(syms) - 1), next: int32(len(syms) + 1)})
		off += n
	}
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	var h spmHeap
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		a, b := syms[l], syms[r]
		s := text[a.start : b.start+b.n]
		id, ok := t.ids[s]
		if !ok {
			return
		}
		h.push(spmCand{score: t.Score(id), left: l, right: r, size: int32(len(s))})
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for len(h) > 0 {
		c := h.pop()
		l, r := &syms[c.left], &syms[c.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != c.size || l.next != c.right {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = c.left
		}
		try(l.prev, c.left)
		try(c.left, l.next)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		s := text[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			continue
		}
		for k := 0; k < len(s); k++ {
			if id := t.byteTok[s[k]]; id >= 0 {
				out = append(out, id)
			}
		}
	}
	return out
}
