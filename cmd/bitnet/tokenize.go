package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"bitnet/engine/tokenizer"
	"bitnet/gguf"
)

func init() {
	register(&command{
		name:  "tokenize",
		usage: "tokenize --model FILE [--tokenizer tokenizer.json] [--add-bos[=false]] [--parse-special=false] [--json] [--file F | TEXT...]",
		short: "Print the token ids of a text (with --json, also each token's string and text).",
		run:   runTokenize,
	})
}

// optBool is a boolean flag that remembers whether it was given.
type optBool struct {
	set, v bool
}

func (b *optBool) String() string { return strconv.FormatBool(b.v) }
func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.v = true, v
	return nil
}
func (b *optBool) IsBoolFlag() bool { return true }

// tokenizeReport is the --json output:
//
//	ids     token ids
//	tokens  per id: id, token (the raw vocabulary string), text (its decoded
//	        bytes as a string, invalid UTF-8 replaced by U+FFFD; control
//	        tokens are shown as their vocabulary string)
type tokenizeReport struct {
	IDs    []int32         `json:"ids"`
	Tokens []tokenizePiece `json:"tokens"`
}

type tokenizePiece struct {
	ID    int32  `json:"id"`
	Token string `json:"token"`
	Text  string `json:"text"`
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	c := commands["tokenize"]
	fs := newFlagSet(c, stderr)
	model := fs.String("model", "", "GGUF model or vocabulary file (its tokenizer.ggml.* metadata)")
	tokJSON := fs.String("tokenizer", "", "Hugging Face tokenizer.json to use instead of the model's vocabulary")
	var addBOS optBool
	fs.Var(&addBOS, "add-bos", "prepend the BOS token (default: as the model asks)")
	special := fs.Bool("parse-special", true, "match special token strings such as <|eot_id|> in the text, as run does (--parse-special=false: read them as text)")
	asJSON := fs.Bool("json", false, "print JSON with ids, token strings and decoded text")
	file := fs.String("file", "", "read the text from this file (- for standard input)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *model == "" && *tokJSON == "" {
		return usageErrorf("--model (or --tokenizer) is required")
	}
	var text string
	switch {
	case *file != "" && len(pos) > 0:
		return usageErrorf("give the text either as arguments or with --file, not both")
	case *file != "":
		b, err := readInput(*file)
		if err != nil {
			return err
		}
		text = string(b)
	case len(pos) == 0:
		return usageErrorf("no text: give TEXT or --file")
	default:
		text = strings.Join(pos, " ")
	}

	var tok *tokenizer.Tokenizer
	if *tokJSON != "" {
		tok, err = tokenizer.FromJSON(*tokJSON)
	} else {
		var f *gguf.File
		if f, err = gguf.Open(*model); err != nil {
			return err
		}
		defer f.Close()
		tok, err = tokenizer.FromGGUF(f)
	}
	if err != nil {
		return err
	}
	bos := tok.AddBOS()
	if addBOS.set {
		bos = addBOS.v
	}
	ids := tok.Encode(text, bos, *special)
	if *asJSON {
		rep := tokenizeReport{IDs: ids, Tokens: make([]tokenizePiece, len(ids))}
		for i, id := range ids {
			rep.Tokens[i] = tokenizePiece{ID: id, Token: tok.Token(id), Text: tok.Piece(id, tokenizer.RenderSpecial())}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(int64(id), 10))
	}
	_, err = fmt.Fprintln(stdout, b.String())
	return err
}
