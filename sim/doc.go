// Package sim is the Driftwatch LLM simulator: an HTTP server that speaks
// the wire formats of the model APIs Driftwatch targets and answers with
// simulated models whose behaviour is known exactly. It is the ground truth
// for the statistics tests, the demo and the benchmarks. It is a simulator:
// nothing it says comes from a real model.
//
// # Endpoints
//
//   - POST /v1/chat/completions (also /chat/completions): OpenAI chat
//     completions, plain or stream:true (SSE chunks ending in data: [DONE],
//     usage chunk with stream_options.include_usage), with model (the
//     resolved model), system_fingerprint, usage, tool_calls and
//     finish_reason stop, length, content_filter or tool_calls.
//   - GET /v1/models (also /models): the models list with vLLM's root and
//     max_model_len (llama.cpp's shape for llama.cpp models).
//   - Config.RateLimit enforces a request and/or token rate on the
//     generation endpoints: 429s with Retry-After, retry-after-ms and
//     OpenAI's x-ratelimit-* (Anthropic's anthropic-ratelimit-* on
//     /v1/messages) headers.
//   - POST /v1/messages: Anthropic Messages, plain or streamed
//     (message_start, content_block_start/delta/stop, message_delta,
//     message_stop), stop_reason end_turn, max_tokens, tool_use or refusal.
//   - GET /api/tags and POST /api/show: Ollama's model list and details
//     (digest, quantization_level, parameter_size).
//   - GET /props: llama.cpp's server properties, shaped exactly like a
//     recorded llama-server's (model_path, build_info, chat_template, ...);
//     a model with Identity.Server "llamacpp" is also listed in llama.cpp's
//     /v1/models shape (meta: size, n_params, ...) and its chat responses
//     echo the request's model field, as llama-server's do.
//   - GET /info: Hugging Face TGI's info (model_id, model_sha, model_dtype).
//   - GET /sim/stats: Stats as JSON. POST /sim/update?model=NAME: apply the
//     model's next pending update (see Server.Update).
//   - GET /healthz.
//
// When Config.APIKey is set, generation and model-list endpoints require it
// (Bearer, or x-api-key on /v1/messages) and answer 401 otherwise.
//
// # How the simulator knows the answer
//
// The simulator reads the last user message (or the last tool result) and
// decides what the correct answer is, in this order:
//
//  1. A hint: the test convention [[sim:expect=ANSWER]] anywhere in the
//     prompt makes ANSWER the correct answer. The hint is never echoed.
//  2. Primality: a prompt mentioning "prime" is about the first integer in
//     it ("Is 17 a prime number?"); the answer is Yes or No.
//  3. Arithmetic: the first run of integers, + - * / (or × ÷) and
//     parentheses with at least one operator is evaluated ("What is
//     17 + 25?", "Compute 12*7"). Division must be exact.
//  4. After a tool call, the tool result's text is the answer.
//  5. Otherwise the canned GenericAnswer (and GenericWrongAnswer when
//     wrong).
//
// A correct sample states the answer in a sentence ("The answer is 42.",
// "Yes, 17 is a prime number."). An incorrect sample states a plausible
// wrong answer instead: a number off by 1, 2 or 10; a flipped yes/no or
// true/false; another letter for a one-letter choice; another word
// otherwise. The prompt's format requests are honoured: \boxed{...},
// [Yes]/[No] brackets, "answer with only the number" (only the answer),
// and JSON ("json" in the prompt or response_format json_object) as
// {"answer": ...}. A refusal is RefusalText. When tools are declared and
// the prompt mentions a tool, a call or a function (or names a tool, or
// tool_choice forces one), the answer is a tool call whose arguments are
// built from the tool's JSON Schema and carry the (possibly wrong) answer.
//
// # Randomness and reproducibility
//
// Each case's true pass probability is a pure function of (Config.Seed,
// Profile.Seed, normalized conversation); see Profile. Each request draws
// from a generator seeded by (Config.Seed, model, conversation, k) where k
// counts requests for that (model, conversation), so a run's outputs do
// not depend on how concurrent cases interleave. A Deterministic profile
// drops k: the same prompt always gets the same output. There is no lock
// on the request path: counters are atomic, updates swap a pointer.
//
// # Silent updates
//
// A Model's Updates switch its profile and/or identity after a number of
// requests, after a wall-clock offset, or when triggered through
// Server.Update or POST /sim/update. Identity endpoints report the
// current identity.
package sim
