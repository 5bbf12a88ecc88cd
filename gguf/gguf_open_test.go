package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenInMemory: the in-memory copy parses to the same tables and
// tensor bytes as the mapping.
func TestOpenInMemory(t *testing.T) {
	w := NewWriter()
	w.Set("general.architecture", "llama")
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 64)
	if err := w.AddTensor("t", F32, []int64{64}, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenInMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := a.Tensor("t")
	tb, _ := b.Tensor("t")
	ra, _ := a.TensorData(ta)
	rb, _ := b.TensorData(tb)
	if !bytes.Equal(ra, rb) || !bytes.Equal(rb, data) || a.DataOffset != b.DataOffset {
		t.Fatal("in-memory copy differs from the mapping")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenInMemory(filepath.Join(t.TempDir(), "missing.gguf")); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
