package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"bitnet/engine/tokenizer"
	"bitnet/gguf"
	"bitnet/internal/testdata"
)

// chatRun runs bitnet chat with input as stdin.
func chatRun(t *testing.T, input string, args ...string) (string, string, int) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	return bitnet(t, append([]string{"chat"}, args...)...)
}

type turnStats struct{ prompt, cached, evaluated, reply, used int }

var statsRE = regexp.MustCompile(`\[prompt (\d+) tokens \((\d+) cached, (\d+) evaluated\).*reply (\d+) tokens.*context (\d+)/\d+\]`)

func chatStats(t *testing.T, stderr string) []turnStats {
	t.Helper()
	var out []turnStats
	for _, m := range statsRE.FindAllStringSubmatch(stderr, -1) {
		var v [5]int
		for i := range v {
			v[i], _ = strconv.Atoi(m[i+1])
		}
		out = append(out, turnStats{v[0], v[1], v[2], v[3], v[4]})
	}
	return out
}

// chatTokens renders msgs as a continuation of a conversation in model's
// chat format (with the generation prompt) and tokenizes them.
func chatTokens(t *testing.T, model string, msgs ...tokenizer.Message) []int32 {
	t.Helper()
	f, err := gguf.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	text, err := tk.RenderChat(msgs, true)
	if err != nil {
		t.Fatal(err)
	}
	return tk.Encode(text, false, true)
}

func storiesModel(t *testing.T) string {
	return filepath.Join(testdata.RepoRoot(t), "testdata", "tinybitnet-stories.gguf")
}

func TestChatKeepsConversationInCache(t *testing.T) {
	for _, name := range []string{"stories", "tiny-i2_s"} {
		t.Run(name, func(t *testing.T) {
			model := storiesModel(t)
			if name != "stories" {
				model = testdata.Path(t, "golden/tiny-i2_s.gguf")
			}
			input := "Tell me a story about a cat.\n\nWhat happened next?\n/reset\nTell me a story about a cat.\n/exit\nnever read\n"
			out, errs, code := chatRun(t, input, "--model", model, "--backend", "cpu", "--temperature", "0", "--max-new-tokens", "24", "--system", "You tell stories.")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			st := chatStats(t, errs)
			if len(st) != 3 {
				t.Fatalf("%d turns with statistics, want 3 (the line after /exit is not read):\n%s", len(st), errs)
			}
			if st[0].cached != 0 || st[0].evaluated != st[0].prompt {
				t.Errorf("first turn %+v: want the whole prompt evaluated", st[0])
			}
			// The second turn's prompt holds the whole conversation, but only
			// what follows the cache is evaluated: the first prompt and the
			// reply's tokens as generated (all but the last, which the
			// token limit left unevaluated) are reused; the new message, the
			// template around it and that last token are evaluated.
			tail := len(chatTokens(t, model, tokenizer.Message{Role: "user", Content: "What happened next?"}))
			if st[1].cached < st[0].prompt+st[0].reply-1 || st[1].evaluated > tail+3 {
				t.Errorf("second turn %+v after %+v: want the first turn and its reply reused from the cache, at most %d tokens evaluated", st[1], st[0], tail+3)
			}
			if st[1].cached+st[1].evaluated != st[1].prompt {
				t.Errorf("second turn %+v: cached + evaluated != prompt", st[1])
			}
			// After /reset the same first message gives the same greedy reply
			// from an empty cache.
			if !strings.Contains(errs, "conversation cleared") || st[2].cached != 0 || st[2] != st[0] {
				t.Errorf("after /reset %+v, want %+v", st[2], st[0])
			}
			replies := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(replies) < 3 || strings.TrimSpace(out) == "" {
				t.Fatalf("stdout %q: want three replies", out)
			}
			if strings.Contains(out, "> ") || strings.Contains(out, "cached") {
				t.Errorf("stdout holds more than the replies: %q", out)
			}
			if strings.Count(errs, "> ") < 4 {
				t.Errorf("no prompt markers on stderr: %s", errs)
			}
		})
	}
}

// TestChatFirstReplyMatchesRun: a chat's first reply is the greedy
// continuation that bitnet run --chat gives for the same message.
func TestChatFirstReplyMatchesRun(t *testing.T) {
	model := storiesModel(t)
	args := []string{"--model", model, "--backend", "cpu", "--temperature", "0", "--max-new-tokens", "30"}
	want, errs, code := bitnet(t, append([]string{"run", "--chat", "--prompt", "Hello there"}, args...)...)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	out, errs, code := chatRun(t, "Hello there\n", args...)
	if code != 0 {
		t.Fatalf("chat: exit %d: %s", code, errs)
	}
	// Chat replies start without white space and stop where the model
	// begins the user's next turn.
	want = strings.TrimLeft(want, " \n")
	if i := strings.Index(want, "\nUser:"); i >= 0 {
		want = want[:i] + "\n"
	}
	if out != want {
		t.Fatalf("chat reply %q, run gives %q", out, want)
	}
}

func TestChatContextFull(t *testing.T) {
	model := storiesModel(t)
	var in strings.Builder
	for i := range 8 {
		in.WriteString("Tell me about the dog number " + strconv.Itoa(i) + " in the park.\n")
	}
	in.WriteString(strings.Repeat("very long message ", 40) + "\n")
	in.WriteString("And the cat?\n")
	out, errs, code := chatRun(t, in.String(), "--model", model, "--backend", "cpu", "--ctx-size", "96",
		"--temperature", "0.7", "--seed", "3", "--max-new-tokens", "-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"[context full: dropped the", "[message too long", "reply was cut short"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	st := chatStats(t, errs)
	if len(st) != 9 {
		t.Errorf("%d turns answered, want 9 (the long message is not sent)", len(st))
	}
	for i, s := range st {
		if s.used > 96 || s.prompt >= 96 {
			t.Errorf("turn %d: %+v exceeds the context", i, s)
		}
	}
	if strings.TrimSpace(out) == "" {
		t.Error("no replies")
	}
}

func TestChatCommands(t *testing.T) {
	model := storiesModel(t)
	out, errs, code := chatRun(t, "/help\n/frob\n   \nOnce\\\nupon a time\n", "--model", model, "--backend", "cpu", "--max-new-tokens", "5", "--seed", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "/reset clears") || !strings.Contains(errs, "unknown command /frob") {
		t.Errorf("stderr: %s", errs)
	}
	if st := chatStats(t, errs); len(st) != 1 || out == "" {
		t.Errorf("want one turn (a continued line), got %d: %q", len(st), out)
	}
	_, errs, code = chatRun(t, "", "--model", model, "--temperature", "-1")
	if code != 2 || !strings.Contains(errs, "--temperature") {
		t.Errorf("bad flag: exit %d: %s", code, errs)
	}
	_, errs, code = chatRun(t, "", "--model", model, "extra")
	if code != 2 || !strings.Contains(errs, "extra") {
		t.Errorf("extra argument: exit %d: %s", code, errs)
	}
}
