package sim

import (
	"cmp"
	"net/http"
	"strconv"

	"github.com/driftwatch/driftwatch/internal/jsonw"
)

// The llama.cpp surface follows responses recorded from a real llama-server
// (build b4748-c392e5094, a 4.1M-parameter ChatML model, `curl -i`): GET
// /props, GET /v1/models and the chat completion's model echo, byte for
// byte in key order and value types (provider/openai/testdata/llamacpp
// holds the recordings; a contract test compares the two).

// The recorded server's values, the defaults of a llama.cpp model.
const (
	llamaBuildDefault = "b4748-c392e5094"
	llamaChatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
	llamaSizeDefault  = 16567296
	llamaParams       = 4141824
	llamaVocab        = 1941
	llamaEmbd         = 256
	llamaCtxTrain     = 2048
)

// llamaSettingsTail is /props default_generation_settings after n_ctx, as
// the recorded server sends it.
const llamaSettingsTail = `,"speculative":false,"is_processing":false,"non_causal":false,"params":{"n_predict":-1,"seed":4294967295,"temperature":0.800000011920929,"dynatemp_range":0.0,"dynatemp_exponent":1.0,"top_k":40,"top_p":0.949999988079071,"min_p":0.05000000074505806,"xtc_probability":0.0,"xtc_threshold":0.10000000149011612,"typical_p":1.0,"repeat_last_n":64,"repeat_penalty":1.0,"presence_penalty":0.0,"frequency_penalty":0.0,"dry_multiplier":0.0,"dry_base":1.75,"dry_allowed_length":2,"dry_penalty_last_n":512,"dry_sequence_breakers":["\n",":","\"","*"],"mirostat":0,"mirostat_tau":5.0,"mirostat_eta":0.10000000149011612,"stop":[],"max_tokens":-1,"n_keep":0,"n_discard":0,"ignore_eos":false,"stream":true,"logit_bias":[],"n_probs":0,"min_keep":0,"grammar":"","grammar_trigger_words":[],"grammar_trigger_tokens":[],"preserved_tokens":[],"chat_format":"Content-only","samplers":["penalties","dry","top_k","typ_p","top_p","min_p","xtc","temperature"],"speculative.n_max":16,"speculative.n_min":0,"speculative.p_min":0.75,"timings_per_token":false,"post_sampling_probs":false,"lora":[]},"prompt":"","next_token":{"has_next_token":true,"has_new_line":false,"n_remain":-1,"n_decoded":0,"stopping_word":""}}`

// llamaFile is what llama.cpp reports about a model's GGUF file.
type llamaFile struct {
	path, id, build, template   string
	size, params                int64
	vocab, embd, ctxTrain, nCtx int
}

func llamaFileOf(id Identity, name string) llamaFile {
	f := llamaFile{
		path:     cmp.Or(id.ModelPath, name),
		build:    cmp.Or(id.BuildInfo, llamaBuildDefault),
		template: cmp.Or(id.ChatTemplate, llamaChatTemplate),
		size:     cmp.Or(id.Size, llamaSizeDefault),
		params:   cmp.Or(id.NParams, llamaParams),
		vocab:    cmp.Or(id.NVocab, llamaVocab),
		embd:     cmp.Or(id.NEmbd, llamaEmbd),
		ctxTrain: cmp.Or(id.NCtxTrain, llamaCtxTrain),
		nCtx:     id.MaxModelLen,
	}
	if id.Size == 0 && id.ModelHash != "" {
		f.size += int64(strHash(id.ModelHash) % 1_000_000)
	}
	f.id = cmp.Or(id.Alias, f.path)
	return f
}

// handleProps serves llama.cpp's GET /props for the model named by
// ?model= (the first one by default: a llama-server serves one model).
func (s *Server) handleProps(w http.ResponseWriter, r *http.Request) {
	m := s.modelParam(r)
	f := llamaFileOf(s.current(m, m.requests.Load()).id, m.name)
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"default_generation_settings":{"id":0,"id_task":-1,"n_ctx":`...)
	b = strconv.AppendInt(b, int64(f.nCtx), 10)
	b = append(b, llamaSettingsTail...)
	b = append(b, `,"total_slots":2,"model_path":`...)
	b = jsonw.AppendString(b, f.path)
	b = append(b, `,"chat_template":`...)
	b = jsonw.AppendString(b, f.template)
	b = append(b, `,"bos_token":"<s>","eos_token":"<|im_end|>","build_info":`...)
	b = jsonw.AppendString(b, f.build)
	b = append(b, '}')
	*bp = b
	w.Header().Set("Server", "llama.cpp")
	writeBody(w, http.StatusOK, "application/json; charset=utf-8", b)
}

// appendLlamaModel appends a /v1/models entry in llama.cpp's shape.
func appendLlamaModel(b []byte, f llamaFile, created int64) []byte {
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, f.id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"owned_by":"llamacpp","meta":{"vocab_type":1,"n_vocab":`...)
	b = strconv.AppendInt(b, int64(f.vocab), 10)
	b = append(b, `,"n_ctx_train":`...)
	b = strconv.AppendInt(b, int64(f.ctxTrain), 10)
	b = append(b, `,"n_embd":`...)
	b = strconv.AppendInt(b, int64(f.embd), 10)
	b = append(b, `,"n_params":`...)
	b = strconv.AppendInt(b, f.params, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, f.size, 10)
	return append(b, "}}"...)
}
