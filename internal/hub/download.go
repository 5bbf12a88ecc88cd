package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var errStalled = errors.New("no data received")

// digest verifies a blob: sha256 for a 64-digit id, the git blob sha1
// ("blob {size}\x00" + content) for a 40-digit one.
type digest struct {
	want string
	h    hash.Hash
	size int64
}

func newDigest(want string, size int64) (*digest, error) {
	d := &digest{want: want, size: size}
	switch len(want) {
	case 64:
		d.h = sha256.New()
	case 40:
		if size < 0 {
			return nil, fmt.Errorf("%w: a git blob of unknown size", ErrProtocol)
		}
		d.h = sha1.New()
	default:
		return nil, fmt.Errorf("%w: blob id %q", ErrProtocol, want)
	}
	d.reset()
	return d, nil
}

func (d *digest) reset() {
	d.h.Reset()
	if len(d.want) == 40 {
		fmt.Fprintf(d.h, "blob %d\x00", d.size)
	}
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// download fetches url into blob, through blob+".incomplete": it resumes
// what an earlier download left there with an HTTP Range, retries transient
// failures (resuming again), verifies the content against etag, and renames
// it to blob. It returns the bytes transferred. On a checksum mismatch the
// data is removed; when interrupted (ctx) or out of retries, the
// .incomplete file is kept for the next pull.
func (c *Client) download(ctx context.Context, url, blob, etag string, size int64, name string) (int64, error) {
	part := blob + ".incomplete"
	d, err := newDigest(etag, size)
	if err != nil {
		return 0, err
	}
	var have int64
	if st, err := os.Stat(part); err == nil && (size < 0 || st.Size() <= size) {
		have = st.Size()
	}
	if err := c.checkSpace(filepath.Dir(blob), size, have); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(have); err != nil {
		return 0, err
	}
	// Hash what an earlier download left.
	if have > 0 {
		if _, err := io.Copy(d.h, io.NewSectionReader(f, 0, have)); err != nil {
			return 0, fmt.Errorf("read %s: %w", part, err)
		}
		c.log().Info("resuming download", "file", name, "have", have, "size", size)
	}
	var p Progress = nopProgress{}
	if c.Progress != nil {
		p = c.Progress
	}
	p.Start(name, size, have)
	var transferred int64
	hc := c.httpClient(true)
	fail := func(err error) (int64, error) {
		p.Stop(false)
		if have == 0 || errors.Is(err, ErrChecksum) {
			f.Close()
			os.Remove(part)
		}
		return transferred, err
	}
	kept := func() string {
		if have == 0 {
			return "nothing was kept"
		}
		return fmt.Sprintf("%d of %s bytes kept in %s: pull again to resume", have, sizeString(size), part)
	}
	best := have // the most ever present: progress means going past it
	for n := 1; ; {
		complete, err := c.fetch(ctx, hc, url, f, d, &have, &transferred, size, p)
		if err == nil && complete {
			break
		}
		if err == nil {
			err = &netError{io.ErrUnexpectedEOF}
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("%w; %s", ErrInterrupted, kept()))
		}
		if errors.Is(err, syscall.ENOSPC) {
			return fail(fmt.Errorf("%w: %v; %s after freeing %s", ErrDiskFull, err, kept(), FormatBytes(max(size-have, 0))))
		}
		if !transient(err) {
			return fail(err)
		}
		if have > best {
			best, n = have, 1 // progress was made: the retries start over
		}
		if n > c.Retries {
			return fail(fmt.Errorf("%w; %s", err, kept()))
		}
		if err := c.wait(ctx, n, "download "+name, err); err != nil {
			return fail(fmt.Errorf("%w; %s", ErrInterrupted, kept()))
		}
		n++
	}
	if got := d.sum(); got != etag {
		p.Stop(false)
		f.Close()
		os.Remove(part)
		return transferred, fmt.Errorf("%w: the download's hash is %s, the hub says %s; the data was removed, pull again", ErrChecksum, got, etag)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, blob)
	}
	if err != nil {
		p.Stop(false)
		return transferred, fmt.Errorf("%s: %w", part, err)
	}
	p.Stop(true)
	return transferred, nil
}

func sizeString(size int64) string {
	if size < 0 {
		return "?"
	}
	return strconv.FormatInt(size, 10)
}

// fetch requests the content from *have on and appends it to f, updating
// the digest, *have and *received. It reports whether the content is complete.
func (c *Client) fetch(ctx context.Context, hc *http.Client, url string, f *os.File, d *digest, have, received *int64, size int64, p Progress) (bool, error) {
	if size >= 0 && *have == size {
		return true, nil
	}
	stall := c.StallTimeout
	if stall <= 0 {
		stall = time.Minute
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()

	req, err := c.newRequest(rctx, http.MethodGet, url)
	if err != nil {
		return false, err
	}
	if *have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", *have))
	}
	resp, err := do(hc, req)
	if err != nil {
		if context.Cause(rctx) == errStalled {
			return false, &netError{errStalled}
		}
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != size {
			return false, fmt.Errorf("%w: the download has %d bytes, the hub announced %d", ErrProtocol, resp.ContentLength, size)
		}
		if *have > 0 {
			c.log().Info("the server does not resume downloads; starting over", "had", *have)
		}
		if err := restart(f, d, have); err != nil {
			return false, err
		}
		p.Update(0)
	case http.StatusPartialContent:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if ok && size >= 0 && total >= 0 && total != size {
			return false, fmt.Errorf("%w: the download has %d bytes, the hub announced %d", ErrProtocol, total, size)
		}
		if !ok || start != *have {
			return false, &netError{fmt.Errorf("asked for bytes from %d, got Content-Range %q", *have, resp.Header.Get("Content-Range"))}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// What is here is not a prefix of the content: start over.
		if err := restart(f, d, have); err != nil {
			return false, err
		}
		p.Update(0)
		return false, &netError{errors.New("range not satisfiable")}
	default:
		return false, c.responseError("", "download", resp)
	}
	if _, err := f.Seek(*have, io.SeekStart); err != nil {
		return false, err
	}
	body := io.Reader(resp.Body)
	if size >= 0 {
		limit := size - *have
		if limit < math.MaxInt64 {
			limit++ // one more shows an overlong body
		}
		body = io.LimitReader(resp.Body, limit)
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			timer.Reset(stall)
			if size >= 0 && *have+int64(n) > size {
				return false, fmt.Errorf("%w: the server sent more than the %d bytes announced", ErrChecksum, size)
			}
			w, werr := f.Write(buf[:n])
			d.h.Write(buf[:w])
			*have += int64(w)
			*received += int64(w)
			p.Update(*have)
			if werr != nil {
				return false, fmt.Errorf("write: %w", werr)
			}
		}
		if rerr == io.EOF {
			return size < 0 || *have == size, nil
		}
		if rerr != nil {
			if context.Cause(rctx) == errStalled {
				return false, &netError{errStalled}
			}
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, &netError{rerr}
		}
	}
}

// restart empties the partial file.
func restart(f *os.File, d *digest, have *int64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	*have = 0
	d.reset()
	return nil
}

// contentRange parses "bytes START-END/TOTAL" (TOTAL -1 when "*").
func contentRange(s string) (start, total int64, ok bool) {
	s, ok = strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, tot, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, false
	}
	a, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return 0, 0, false
		}
	}
	return start, total, true
}

// checkSpace fails before downloading when the disk holding dir cannot
// hold the rest of the file.
func (c *Client) checkSpace(dir string, size, have int64) error {
	if size < 0 {
		return nil
	}
	free := c.freeSpace
	if free == nil {
		free = diskFree
	}
	avail, ok := free(dir)
	if !ok || avail >= uint64(size-have) {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s more, %s is free in %s", ErrDiskFull, FormatBytes(size), FormatBytes(size-have), FormatBytes(int64(min(avail, 1<<62))), dir)
}
