package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"bitnet/internal/hub"
)

func init() {
	register(&command{
		name:  "models",
		usage: "models [--all] [--json]",
		short: "List the models in the Hugging Face cache (repository, file, size, revision).",
		run:   runModels,
	})
}

func runModels(args []string, stdout, stderr io.Writer) error {
	c := commands["models"]
	fs := newFlagSet(c, stderr)
	all := fs.Bool("all", false, "list every cached file, not only GGUF models")
	asJSON := fs.Bool("json", false, "print a JSON array: repo, file, size, commit, refs, path")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	client := hub.FromEnv()
	files, err := client.List(*all)
	if err != nil {
		return err
	}
	if *asJSON {
		if files == nil {
			files = []hub.CachedFile{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(files)
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "no models in %s; get one with: bitnet pull REPO[:FILE]\n", client.CacheDir)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPO\tFILE\tSIZE\tREVISION")
	for _, f := range files {
		rev := f.Commit[:min(len(f.Commit), 12)]
		if len(f.Refs) > 0 {
			rev = strings.Join(f.Refs, ",") + " (" + rev + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Repo, f.Path, hub.FormatBytes(f.Size), rev)
	}
	return tw.Flush()
}
