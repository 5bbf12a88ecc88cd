package gguf

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks for transparent huge pages (a hint; failure is fine).
// On a file mapping it makes page faults read the file ahead in 2 MiB folios.
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }

// recacheMinSize is the smallest file whose page cache settleMapping
// rebuilds: below it the TLB cost is small and the re-read not worth it.
var recacheMinSize = 256 << 20

const hugePage = 2 << 20

// settleMapping faults data (a read-only shared mapping of fd) in. It is
// best effort: whatever fails, data stays a valid mapping of the file.
//
// When over 2% of the file is not mapped with 2 MiB entries, the page cache
// holds that part in small folios (a file just written or downloaded, or read
// by a program that did not ask for huge pages, or partly evicted). Such
// parts cost the weight streams up to 10% (measured on the LM head: with 81%
// of the file on 2 MiB entries it streamed at 29 GB/s, an anonymous
// huge-page copy at 31 GB/s). settleMapping then probes whether this kernel
// and file system can do better: it drops one 2 MiB piece from the mapping
// and the page cache and faults it in again. Only if that piece comes back as
// a huge mapping does it do the same with the whole file, which costs one
// read of the file from disk.
func settleMapping(fd *os.File, data []byte) { recache(fd, data) }

// recache is settleMapping, saying whether it re-read the whole file.
func recache(fd *os.File, data []byte) bool {
	populate(data)
	if len(data) < recacheMinSize || os.Getenv("BITNET_MMAP_RECACHE") == "0" {
		return false
	}
	if uintptr(unsafe.Pointer(&data[0]))%hugePage != 0 || len(data) < 2*hugePage {
		return false
	}
	huge, ok := filePmdMapped(data)
	if !ok || huge >= int64(len(data))/50*49 {
		return false
	}
	t0 := time.Now()
	// The probe: unmap one 2 MiB piece, count the 2 MiB entries left, drop
	// the piece from the page cache and fault it in again. It came back as a
	// huge mapping if the count grew.
	off := len(data) / 2 &^ (hugePage - 1)
	piece := data[off : off+hugePage]
	if unix.Madvise(piece, unix.MADV_DONTNEED) != nil {
		return false
	}
	before, _ := filePmdMapped(data)
	if dropPages(fd, data, off, hugePage) != nil {
		return false
	}
	if probe, _ := filePmdMapped(data); probe <= before {
		slog.Debug("page cache cannot hold this file in 2 MiB folios; the mapping stays on 4 KiB pages", "file", fd.Name())
		return false
	}
	if dropPages(fd, data, 0, len(data)) != nil {
		return false
	}
	after, _ := filePmdMapped(data)
	slog.Info("model re-read into huge page-cache folios (once; faster weight streaming)",
		"file", fd.Name(), "huge_mb_before", huge>>20, "huge_mb_after", after>>20, "ms", time.Since(t0).Milliseconds())
	return true
}

// dropPages unmaps data[off:off+n] (a shared mapping of fd from offset 0),
// drops those bytes of the file from the page cache where they are clean and
// mapped nowhere else, and faults them in again.
func dropPages(fd *os.File, data []byte, off, n int) error {
	if err := unix.Madvise(data[off:off+n], unix.MADV_DONTNEED); err != nil {
		return err
	}
	_ = unix.Fadvise(int(fd.Fd()), int64(off), int64(n), unix.FADV_DONTNEED)
	populate(data[off : off+n])
	return nil
}

// populate faults every page of data in (MADV_POPULATE_READ, Linux 5.14+;
// touching one byte per page before that).
func populate(data []byte) {
	if unix.Madvise(data, unix.MADV_POPULATE_READ) != nil {
		prefault(data)
	}
}

// filePmdMapped returns how many bytes of the mapping starting at data[0] are
// mapped with PMD (2 MiB) entries, from /proc/self/smaps.
func filePmdMapped(data []byte) (int64, bool) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	start := []byte(strconv.FormatUint(uint64(uintptr(unsafe.Pointer(&data[0]))), 16) + "-")
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		if !found {
			found = bytes.HasPrefix(line, start)
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("FilePmdMapped:")); ok {
			var kb int64
			if _, err := fmt.Sscan(string(v), &kb); err != nil {
				return 0, false
			}
			return kb << 10, true
		}
		if bytes.HasPrefix(line, []byte("VmFlags:")) {
			return 0, false
		}
	}
	return 0, false
}
