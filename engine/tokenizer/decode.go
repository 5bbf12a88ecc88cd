package tokenizer

import "strings"

// unknownPiece is how SentencePiece unknown tokens are shown (as llama.cpp does).
const unknownPiece = "\u2585"

func (t *Tokenizer) initPieces() {
	t.pieces = make([]string, len(t.tokens))
	for i, s := range t.tokens {
		switch t.types[i] {
		case TypeControl, TypeUserDefined, TypeUnused:
			t.pieces[i] = s
		case TypeByte:
			if b, ok := parseByteToken(s); ok {
				t.pieces[i] = string([]byte{b})
			} else {
				t.pieces[i] = s
			}
		case TypeUnknown:
			if t.model == SPM {
				t.pieces[i] = unknownPiece
			} else {
				t.pieces[i] = s
			}
		default:
			if t.model == SPM {
				t.pieces[i] = strings.ReplaceAll(s, spaceMarker, " ")
			} else {
				t.pieces[i] = ByteLevelDecode(s)
			}
		}
	}
}

// DecodeOption changes how tokens are rendered as text.
type DecodeOption func(*decodeOpts)

type decodeOpts struct {
	renderSpecial bool
	keepSpace     bool
}

// RenderSpecial renders control tokens (BOS, <|eot_id|>, ...) as their text
// instead of dropping them.
func RenderSpecial() DecodeOption { return func(o *decodeOpts) { o.renderSpecial = true } }

// KeepLeadingSpace keeps the space that SentencePiece prepends to the text.
// Use it when decoding a continuation rather than a whole sequence.
func KeepLeadingSpace() DecodeOption { return func(o *decodeOpts) { o.keepSpace = true } }

// piece returns the text of id at position pos in a sequence whose first
// token is first.
func (t *Tokenizer) piece(id int32, pos int, first int32, o *decodeOpts) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	ty := t.types[id]
	if (ty == TypeControl || ty == TypeUnused || (ty == TypeUnknown && t.model == BPE)) && !o.renderSpecial {
		return ""
	}
	p := t.pieces[id]
	// SentencePiece: drop the space added in front of the text, on the first
	// token or the one right after a leading BOS.
	if t.model == SPM && t.addSpacePrefix && !o.keepSpace && ty == TypeNormal &&
		(pos == 0 || (pos == 1 && first == t.bos)) {
		p = strings.TrimPrefix(p, " ")
	}
	return p
}

// Piece returns the text of a single token (raw bytes: may be partial UTF-8).
// Control tokens give "" unless RenderSpecial is passed.
func (t *Tokenizer) Piece(id int32, opts ...DecodeOption) string {
	var o decodeOpts
	for _, f := range opts {
		f(&o)
	}
	o.keepSpace = true
	return t.piece(id, -1, -1, &o)
}

// Decode converts ids to text. Control tokens are dropped unless
// RenderSpecial is passed; for SentencePiece the space prepended by Encode is
// removed. Out-of-range ids are ignored. The result may contain invalid UTF-8
// when the ids split a character.
func (t *Tokenizer) Decode(ids []int32, opts ...DecodeOption) string {
	var o decodeOpts
	for _, f := range opts {
		f(&o)
	}
	var b strings.Builder
	first := int32(-1)
	for i, id := range ids {
		if i == 0 {
			first = id
		}
		b.WriteString(t.piece(id, i, first, &o))
	}
	return b.String()
}

// Stream decodes tokens one at a time, as they are generated.
type Stream struct {
	t     *Tokenizer
	o     decodeOpts
	pos   int
	first int32
	buf   []byte // bytes held back: an incomplete UTF-8 sequence
}

// NewStream returns a streaming decoder. The concatenation of everything
// Push and Flush return equals Decode of the same ids with the same options.
func (t *Tokenizer) NewStream(opts ...DecodeOption) *Stream {
	s := &Stream{t: t, first: -1}
	for _, f := range opts {
		f(&s.o)
	}
	return s
}

// Push adds a token and returns the text that is now complete. Bytes of a
// character split across tokens are held back until the character is
// complete.
func (s *Stream) Push(id int32) string {
	if s.pos == 0 {
		s.first = id
	}
	s.buf = append(s.buf, s.t.piece(id, s.pos, s.first, &s.o)...)
	s.pos++
	n := completeUTF8(s.buf)
	out := string(s.buf[:n])
	s.buf = append(s.buf[:0], s.buf[n:]...)
	return out
}

// Flush returns any held-back bytes (an incomplete character) and resets the
// hold buffer.
func (s *Stream) Flush() string {
	out := string(s.buf)
	s.buf = s.buf[:0]
	return out
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence that could still be completed by more bytes.
func completeUTF8(b []byte) int {
	n := len(b)
	// Look back at most 3 bytes for the start of the last sequence.
	for k := 1; k <= 3 && k <= n; k++ {
		c := b[n-k]
		if c < 0x80 {
			return n // ASCII: everything is complete
		}
		if c >= 0xC0 { // lead byte
			need := 0
			switch {
			case c >= 0xF0 && c <= 0xF4:
				need = 4
			case c >= 0xE0 && c < 0xF0:
				need = 3
			case c >= 0xC2 && c < 0xE0:
				need = 2
			default:
				return n // invalid lead byte: will never complete
			}
			if k < need && validPrefix(b[n-k:]) {
				return n - k
			}
			return n
		}
	}
	return n
}

// validPrefix reports whether p (a lead byte and continuation bytes) can be
// the start of a valid UTF-8 encoding.
func validPrefix(p []byte) bool {
	for _, c := range p[1:] {
		if c&0xC0 != 0x80 {
			return false
		}
	}
	if len(p) >= 2 {
		switch p[0] {
		case 0xE0:
			return p[1] >= 0xA0
		case 0xED:
			return p[1] < 0xA0
		case 0xF0:
			return p[1] >= 0x90
		case 0xF4:
			return p[1] < 0x90
		}
	}
	return true
}
