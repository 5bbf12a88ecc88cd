// llamacpp-logits evaluates token ids as one batch with llama.cpp (CPU) and
// writes the logits of every position as raw little-endian float32
// [n_tokens][n_vocab], the layout of `bitnet logits`. It makes the expected
// values of engine/testdata/llamacpp/; it is not part of the Go build.
//
// Build against a llama.cpp checkout built with cmake (static libraries):
//
//	cmake -S llama.cpp -B llama.cpp/build -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
//	cmake --build llama.cpp/build --target llama llama-quantize
//	B=llama.cpp/build
//	cc -O2 -I llama.cpp/include -I llama.cpp/ggml/include scripts/llamacpp-logits/main.c \
//	  $B/src/libllama.a $B/ggml/src/libggml.a $B/ggml/src/libggml-cpu.a $B/ggml/src/libggml-base.a \
//	  -lstdc++ -lgomp -lm -lpthread -o llamacpp-logits
//
// Usage: llamacpp-logits MODEL.gguf OUT.f32 FLASH_ATTN(-1 auto, 0 off, 1 on) ID [ID...]
//
// LLAMACPP_KV=f32 makes the KV cache F32 (F16 by default). With
// LLAMACPP_DUMP=DIR set, every contiguous F32 tensor the graph computes
// is also written to DIR/NAME.f32 (raw float32, ggml order).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

static const char *dump_dir;

static bool dump(struct ggml_tensor *t, bool ask, void *data) {
	(void)data;
	if (ask) {
		return t->type == GGML_TYPE_F32;
	}
	if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) {
		return true;
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s.f32", dump_dir, t->name);
	for (char *c = path + strlen(dump_dir) + 1; *c; c++) {
		if (*c == '/' || *c == ' ') {
			*c = '_';
		}
	}
	size_t n = ggml_nbytes(t);
	void *buf = malloc(n);
	ggml_backend_tensor_get(t, buf, 0, n);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, n, f);
		fclose(f);
	}
	free(buf);
	return true;
}

static void quiet(enum ggml_log_level level, const char *text, void *data) {
	(void)data;
	if (level >= GGML_LOG_LEVEL_WARN) {
		fputs(text, stderr);
	}
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: %s MODEL OUT FLASH_ATTN ID [ID...]\n", argv[0]);
		return 2;
	}
	int n = argc - 4;
	llama_log_set(quiet, NULL);
	llama_backend_init();

	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	struct llama_model *model = llama_model_load_from_file(argv[1], mp);
	if (!model) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = n < 64 ? 64 : n;
	cp.n_batch = cp.n_ctx;
	cp.n_ubatch = cp.n_ctx;
	cp.n_threads = 1;
	cp.n_threads_batch = 1;
	cp.flash_attn_type = (enum llama_flash_attn_type)atoi(argv[3]);
	const char *kv = getenv("LLAMACPP_KV");
	if (kv && strcmp(kv, "f32") == 0) {
		cp.type_k = GGML_TYPE_F32;
		cp.type_v = GGML_TYPE_F32;
	}
	dump_dir = getenv("LLAMACPP_DUMP");
	if (dump_dir && *dump_dir) {
		cp.cb_eval = dump;
	}
	struct llama_context *ctx = llama_init_from_model(model, cp);
	if (!ctx) {
		fprintf(stderr, "cannot make a context\n");
		return 1;
	}
	int nv = llama_vocab_n_tokens(llama_model_get_vocab(model));

	struct llama_batch b = llama_batch_init(n, 0, 1);
	for (int i = 0; i < n; i++) {
		b.token[i] = atoi(argv[4 + i]);
		b.pos[i] = i;
		b.n_seq_id[i] = 1;
		b.seq_id[i][0] = 0;
		b.logits[i] = 1;
	}
	b.n_tokens = n;
	if (llama_decode(ctx, b) != 0) {
		fprintf(stderr, "llama_decode failed\n");
		return 1;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const float *lg = llama_get_logits_ith(ctx, i);
		if (fwrite(lg, sizeof(float), nv, f) != (size_t)nv) {
			perror(argv[2]);
			return 1;
		}
	}
	fclose(f);
	fprintf(stderr, "wrote %d x %d logits to %s\n", n, nv, argv[2]);
	llama_batch_free(b);
	llama_free(ctx);
	llama_model_free(model);
	llama_backend_free();
	return 0;
}
