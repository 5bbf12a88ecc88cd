package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Hand-written equivalents of the pre-tokenizer regexes (tested against a
// regex engine in the tests). Each next function returns the end of the
// pre-token that starts at byte i (i < len(s)); it always advances.
//
// \s is Unicode White_Space, \p{L} letters, \p{N} numbers. Invalid UTF-8
// bytes count as single "other" characters.

const (
	clsL  = 1 << iota // \p{L}
	clsN              // \p{N}
	clsS              // \s
	clsNL             // \r or \n
)

var asciiClass [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		r := rune(c)
		var k uint8
		if unicode.IsLetter(r) {
			k |= clsL
		}
		if unicode.IsNumber(r) {
			k |= clsN
		}
		if unicode.IsSpace(r) {
			k |= clsS
		}
		if r == '\r' || r == '\n' {
			k |= clsNL
		}
		asciiClass[c] = k
	}
}

// charAt decodes the character at byte i and returns its class and width.
func charAt(s string, i int) (r rune, cls uint8, w int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), asciiClass[c], 1
	}
	r, w = utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w <= 1 {
		return r, 0, 1
	}
	switch {
	case unicode.IsLetter(r):
		cls = clsL
	case unicode.IsNumber(r):
		cls = clsN
	case unicode.IsSpace(r):
		cls = clsS
	}
	return r, cls, w
}

func isOther(cls uint8) bool { return cls&(clsL|clsN|clsS) == 0 }

// skip advances over characters whose class has a bit of mask.
func skip(s string, i int, mask uint8) int {
	for i < len(s) {
		_, c, w := charAt(s, i)
		if c&mask == 0 {
			break
		}
		i += w
	}
	return i
}

// skipOther advances over characters that are not letters, numbers or spaces.
func skipOther(s string, i int) int {
	for i < len(s) {
		_, c, w := charAt(s, i)
		if !isOther(c) {
			break
		}
		i += w
	}
	return i
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// contraction returns the length of a contraction ('s 't 're 've 'm 'll 'd)
// at s[i], or 0. fold makes it case-insensitive.
func contraction(s string, i int, fold bool) int {
	if s[i] != '\'' || i+1 >= len(s) {
		return 0
	}
	low := func(c byte) byte {
		if fold {
			return lowerASCII(c)
		}
		return c
	}
	switch low(s[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && low(s[i+2]) == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && low(s[i+2]) == 'l' {
			return 3
		}
	}
	return 0
}

// whitespace handles `\s+(?!\S)|\s+` at i (a space character): the whole run
// at the end of the text, otherwise the run but its last character (which
// goes with the next pre-token), or a single character.
func whitespace(s string, i int) int {
	j, last := i, i
	for j < len(s) {
		_, c, w := charAt(s, j)
		if c&clsS == 0 {
			break
		}
		last = j
		j += w
	}
	if j == len(s) || last == i {
		return j
	}
	return last
}

// nextLlama3 implements the llama3 pre-tokenizer regex:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func nextLlama3(s string, i int) int {
	if n := contraction(s, i, true); n > 0 {
		return i + n
	}
	r, c, w := charAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c&(clsL|clsN|clsNL) == 0 && i+w < len(s) {
		if _, c2, w2 := charAt(s, i+w); c2&clsL != 0 {
			return skip(s, i+w+w2, clsL)
		}
	}
	if c&clsL != 0 {
		return skip(s, i+w, clsL)
	}
	// \p{N}{1,3}
	if c&clsN != 0 {
		j := i + w
		for k := 1; k < 3 && j < len(s); k++ {
			_, c2, w2 := charAt(s, j)
			if c2&clsN == 0 {
				break
			}
			j += w2
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if r == ' ' && i+1 < len(s) {
		if _, c2, _ := charAt(s, i+1); isOther(c2) {
			j = i + 1
		}
	}
	if _, c2, _ := charAt(s, j); isOther(c2) {
		j = skipOther(s, j)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+ : up to the last newline of the whitespace run.
	end := -1
	for j = i; j < len(s); {
		_, c2, w2 := charAt(s, j)
		if c2&clsS == 0 {
			break
		}
		j += w2
		if c2&clsNL != 0 {
			end = j
		}
	}
	if end > 0 {
		return end
	}
	return whitespace(s, i)
}

// nextGPT2 implements the GPT-2 pre-tokenizer regex:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func nextGPT2(s string, i int) int {
	if n := contraction(s, i, false); n > 0 {
		return i + n
	}
	r, c, w := charAt(s, i)
	j := i
	if r == ' ' && i+1 < len(s) {
		j = i + 1
		_, c, w = charAt(s, j)
		if c&clsS != 0 {
			return whitespace(s, i)
		}
	}
	switch {
	case c&clsL != 0:
		return skip(s, j+w, clsL)
	case c&clsN != 0:
		return skip(s, j+w, clsN)
	case c&clsS == 0:
		return skipOther(s, j+w)
	}
	return whitespace(s, i)
}
