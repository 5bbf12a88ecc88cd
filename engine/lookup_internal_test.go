package engine

import (
	"slices"
	"testing"
)

// TestLookupDraft: the draft follows the latest earlier occurrence of the
// longest n-gram (4 down to 2 tokens) that ends the history, up to n
// tokens and the history's end.
func TestLookupDraft(t *testing.T) {
	cases := []struct {
		name string
		hist []int32
		n    int
		want []int32
	}{
		{"no repeat", []int32{1, 2, 3, 4, 5}, 4, nil},
		{"a repeated token alone", []int32{7, 1, 2, 7}, 4, nil},
		{"bigram", []int32{1, 2, 3, 4, 9, 1, 2}, 4, []int32{3, 4, 9, 1}},
		{"up to n", []int32{1, 2, 3, 4, 9, 1, 2}, 2, []int32{3, 4}},
		{"up to the end", []int32{5, 1, 2, 3, 1, 2}, 8, []int32{3, 1, 2}},
		{"the latest occurrence", []int32{1, 2, 3, 1, 2, 4, 1, 2}, 1, []int32{4}},
		// The trigram 8 1 2 occurs once, earlier than the bigram's latest
		// occurrence: the longer match wins.
		{"the longest n-gram", []int32{8, 1, 2, 5, 1, 2, 6, 8, 1, 2}, 3, []int32{5, 1, 2}},
		{"4-gram over trigram", []int32{9, 8, 1, 2, 3, 7, 8, 1, 2, 4, 9, 8, 1, 2}, 1, []int32{3}},
		{"overlapping", []int32{3, 3, 3}, 4, []int32{3}},
		{"n 0", []int32{1, 2, 1, 2}, 0, nil},
		{"short history", []int32{1}, 4, nil},
	}
	for _, c := range cases {
		got := lookupDraft([]int32{99}, c.hist, c.n)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: lookupDraft(%v, %d) = %v, want %v", c.name, c.hist, c.n, got, c.want)
		}
	}
}
