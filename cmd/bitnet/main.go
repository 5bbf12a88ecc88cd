// Command bitnet runs ternary (BitNet b1.58) language models from GGUF files.
//
// Usage: bitnet <command> [flags]. Run "bitnet help" for the list of commands.
// Generated text goes to stdout; progress, statistics and diagnostics go to
// stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
)

// command is one subcommand. Each lives in its own file and registers itself
// from init.
type command struct {
	name  string
	usage string // one line: "inspect FILE [--json]"
	short string // one sentence
	run   func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// errUsage marks an error caused by bad flags or arguments (exit status 2).
var errUsage = errors.New("usage error")

func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set that returns its errors instead of printing
// them or exiting: run reports a bad flag with the command's one-line usage,
// and prints the full help on stdout for --help (see parseFlags). Every
// command takes -v and --verbose. stderr is kept for commandStderr.
func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(flagOutput{stderr})
	verboseFlag := func(s string) error {
		v, err := strconv.ParseBool(s)
		if err == nil && v {
			verbose()
		}
		return err
	}
	fs.BoolFunc("v", "log progress and model details on stderr (same as BITNET_LOG=info)", verboseFlag)
	fs.BoolFunc("verbose", "same as -v", verboseFlag)
	fs.Usage = func() {}
	return fs
}

// flagOutput is a flag set's output: the flag package's own messages are
// dropped (commands print the error and a usage hint themselves), and
// stderr is the command's, for flags whose work reports progress there
// (see commandStderr).
type flagOutput struct{ stderr io.Writer }

func (flagOutput) Write(p []byte) (int, error) { return len(p), nil }

// commandStderr returns the stderr of the command that made fs.
func commandStderr(fs *flag.FlagSet) io.Writer {
	if o, ok := fs.Output().(flagOutput); ok && o.stderr != nil {
		return o.stderr
	}
	return os.Stderr
}

// helpRequested is parseFlags' error for -h and --help: run prints the
// command's help from its flag set.
type helpRequested struct{ fs *flag.FlagSet }

func (h *helpRequested) Error() string { return flag.ErrHelp.Error() }
func (h *helpRequested) Unwrap() error { return flag.ErrHelp }

// printCommandHelp writes c's usage, description and flags to w.
func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: bitnet %s\n\n%s\n\nflags:\n", c.usage, c.short)
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// parseNoArgs is parseFlags for commands without positional arguments; hint
// follows the error that names an unexpected one.
func parseNoArgs(fs *flag.FlagSet, args []string, hint string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q%s", pos[0], hint)
	}
	return nil
}

// parseFlags parses args, allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequested{fs}
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "bitnet: inference for ternary (BitNet b1.58) language models in GGUF files")
	fmt.Fprintln(w, "\nusage: bitnet <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\nRun 'bitnet <command> --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	verb := false
	for len(args) > 0 && (args[0] == "-v" || args[0] == "--verbose" || args[0] == "-verbose") {
		verb, args = true, args[1:]
	}
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	setupLogging(stderr, name)
	if verb {
		verbose()
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return run([]string{args[1], "--help"}, stdout, stderr)
			}
		}
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bitnet: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}
	if path := os.Getenv("BITNET_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "bitnet: BITNET_CPUPROFILE: %v\n", err)
			return 1
		}
		defer stop()
	}
	err := c.run(args[1:], stdout, stderr)
	var help *helpRequested
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		printCommandHelp(stdout, c, help.fs)
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(stderr, "bitnet %s: interrupted\n", c.name)
		return 130 // as a shell reports a process ended by SIGINT
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bitnet %s: %v\n", c.name, err)
		fmt.Fprintf(stderr, "usage: bitnet %s\n", c.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "bitnet %s: %v\n", c.name, err)
		return 1
	}
}

// startCPUProfile writes a pprof CPU profile of the command to path.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// logLevel is the level of the default logger set up by the latest
// setupLogging (each has its own, so that in-process runs do not change the
// level of a logger another command still holds).
var logLevel = new(slog.LevelVar)

// setupLogging sends the default logger to stderr. Commands log warnings and
// errors only, except serve, whose request log is its output; -v or
// BITNET_LOG=info adds progress and model details, BITNET_LOG=debug more.
func setupLogging(stderr io.Writer, cmd string) {
	logLevel = new(slog.LevelVar)
	logLevel.Set(slog.LevelWarn)
	if cmd == "serve" {
		logLevel.Set(slog.LevelInfo)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel})))
	switch v := os.Getenv("BITNET_LOG"); strings.ToLower(v) {
	case "":
	case "debug":
		logLevel.Set(slog.LevelDebug)
	case "info":
		logLevel.Set(slog.LevelInfo)
	case "warn", "warning":
		logLevel.Set(slog.LevelWarn)
	default:
		slog.Warn("BITNET_LOG: unknown level (want debug, info or warn)", "value", v)
	}
}

// verbose lowers the log level to info unless it is already lower.
func verbose() {
	if logLevel.Level() > slog.LevelInfo {
		logLevel.Set(slog.LevelInfo)
	}
}
