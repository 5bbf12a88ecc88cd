package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRecache: a file written in 4 KiB pieces sits in small page-cache
// folios; recache finds the mapping in /proc/self/smaps and, where the
// kernel and file system hold files in 2 MiB folios, re-reads the file. The
// mapping keeps the file's bytes, and OpenResident parses it.
func TestRecache(t *testing.T) {
	defer func(v int) { recacheMinSize = v }(recacheMinSize)
	recacheMinSize = 0

	w := NewWriter()
	w.Set("general.architecture", "llama")
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := w.AddTensor("t", F32, []int64{int64(len(data) / 4)}, data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for b := buf.Bytes(); len(b) > 0; {
		n := min(len(b), 4096)
		if _, err := out.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	if err := out.Sync(); err != nil { // clean pages can be dropped
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	fd, size, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	m, err := mapFile(fd, size)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	again := recache(fd, m)
	if !bytes.Equal(m, buf.Bytes()) {
		t.Fatal("re-read mapping differs from the file")
	}
	huge, ok := filePmdMapped(m)
	if !ok {
		t.Fatal("mapping not found in /proc/self/smaps")
	}
	t.Logf("re-read: %v; %d of %d bytes mapped with 2 MiB entries", again, huge, len(m))
	if again && huge < int64(len(m))/2 {
		t.Fatalf("re-read, but only %d of %d bytes are mapped with 2 MiB entries", huge, len(m))
	}

	f, err := OpenResident(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, _ := f.Tensor("t")
	got, err := f.TensorData(ti)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenResident tensor differs from the file (err %v)", err)
	}
}
