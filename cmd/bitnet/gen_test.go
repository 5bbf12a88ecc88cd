package main

import (
	"strings"
	"testing"
)

// TestSamplingFlagsRejectNonFinite: NaN and infinities are bad sampling
// flags for every command that takes them, reported before the model loads.
func TestSamplingFlagsRejectNonFinite(t *testing.T) {
	model := storiesModel(t)
	for _, flag := range []string{"--temperature", "--top-p", "--min-p", "--repeat-penalty"} {
		for _, v := range []string{"NaN", "Inf", "+Inf", "-Inf"} {
			for _, cmd := range []string{"run", "chat"} {
				t.Run(cmd+flag+"="+v, func(t *testing.T) {
					args := []string{"--model", model, "--backend", "cpu", "--max-new-tokens", "1", flag, v}
					var out, errs string
					var code int
					if cmd == "run" {
						out, errs, code = bitnet(t, append([]string{"run", "--prompt", "Once"}, args...)...)
					} else {
						out, errs, code = chatRun(t, "Hi\n", args...)
					}
					if code != 2 {
						t.Fatalf("exit %d, want 2; stdout %q, stderr %s", code, out, errs)
					}
					if want := "bitnet " + cmd + ": usage error: " + flag + " "; !strings.Contains(errs, want) {
						t.Fatalf("stderr does not name the flag (%q):\n%s", want, errs)
					}
					if out != "" {
						t.Errorf("stdout %q, want nothing", out)
					}
				})
			}
		}
	}
}
