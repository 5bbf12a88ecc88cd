package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"bitnet/internal/hub"
)

func init() {
	register(&command{
		name:  "pull",
		usage: "pull REPO[:FILE] [--revision R]",
		short: "Download a GGUF model from Hugging Face into the huggingface_hub cache (resuming, verified) and print its path.",
		run:   runPull,
	})
}

func runPull(args []string, stdout, stderr io.Writer) error {
	c := commands["pull"]
	fs := newFlagSet(c, stderr)
	revision := fs.String("revision", "main", "branch, tag or commit hash")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want one REPO[:FILE], e.g. microsoft/bitnet-b1.58-2B-4T-gguf")
	}
	ref, err := hub.ParseRef(pos[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	ref.Revision = *revision
	f, err := pullModel(ref, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, f.Local)
	return nil
}

// pullModel pulls ref as configured by the environment (HF_ENDPOINT,
// HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE, ...), with progress on stderr; an
// interrupt (Ctrl-C) stops the download and keeps what it has for the next
// pull.
func pullModel(ref hub.Ref, stderr io.Writer) (*hub.File, error) {
	if stderr == nil {
		stderr = os.Stderr
	}
	c := hub.FromEnv()
	c.Progress = hub.NewProgress(stderr, isTerminal(stderr))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := c.Pull(ctx, ref)
	if err != nil {
		return nil, err
	}
	if f.Downloaded == 0 {
		fmt.Fprintf(stderr, "model in the cache: %s %s (%s, commit %.12s)\n", f.Repo, f.Path, hub.FormatBytes(f.Size), f.Commit)
	}
	return f, nil
}

// isTerminal reports whether w is a terminal that can redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
