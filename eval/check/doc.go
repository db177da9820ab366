// Package check is Driftwatch's check catalog: each check implements
// eval.Checker and returns pass/fail, a score in [0,1] and a short reason
// that never quotes more than about 200 runes of output.
//
// Go suites call the constructors; YAML suites declare a Spec and call New.
// The catalog, with the Spec type name first and the fields it reads:
//
//	equals (value)               Equals: trimmed output equals value; a non-string value compares as JSON
//	contains (value)             Contains: output contains value
//	icontains (value)            IContains: contains, ignoring case
//	contains-any (values)        ContainsAny: contains at least one value
//	contains-all (values)        ContainsAll: contains every value; score is the fraction found
//	icontains-any/-all (values)  IContainsAny, IContainsAll: the same, ignoring case
//	regex (value)                Regex, MustRegex: RE2 match on the first MaxInputBytes
//	starts-with, ends-with       StartsWith, EndsWith: prefix/suffix, ignoring surrounding whitespace
//	is-json (schema?)            IsJSON: one JSON value, optionally in one ```json fence (JSONValid)
//	contains-json (schema?)      ContainsJSON: some {...} or [...] in the output is JSON
//	json-schema (schema|value)   JSONSchema: JSON that validates against a JSON Schema
//	json-path (path, value)      JSONPathEquals: the value at a JSONPath equals value
//	is-refusal, not-refusal      Refusal, NotRefusal: keyword and lecture-opener rules (IsRefusal)
//	length (min, max)            Length: bounds on characters
//	tokens (min, max)            Tokens: bounds on reported output tokens, or an estimate
//	finish-reason (values)       FinishReason: the response's finish reason is one of values
//	tool-call (value?, schema?)  ToolCall: named call made, declared, arguments valid JSON matching the schema
//	is-valid-tool-call           alias of tool-call
//	levenshtein (ref, threshold) Levenshtein: 1 - edit distance / length >= threshold (default 0.8)
//	rouge-l (ref, threshold)     RougeL: ROUGE-L F1 over words >= threshold (default 0.75)
//	similar (ref, threshold)     NGramCosine: character 3–5-gram cosine >= threshold (default 0.75)
//	embedding-similar (ref, threshold) Embedding: embedding cosine >= threshold (default 0.8); needs Options.Embedder
//	llm-rubric (value, threshold) Rubric: a judge model grades against a rubric; needs Options.Judge
//	latency (max ms)             Latency: response latency bound
//	cost (max USD)               Cost: response cost bound
//	not-<type>                   Not: negation of any type above except the refusal pair
//
// Go-only helpers: Func wraps a custom function, Not negates, WithWeight sets
// a result weight, Weighted combines checks into one weighted score with a
// threshold, and WeightedScore computes the weighted mean of results.
//
// For the runner's output flags: IsRefusal, JSONValid and HasCodeFence.
//
// # Safety
//
// Checks never touch the network except through the judge or embedder they
// are given; JSON Schema $ref to other documents is refused. Regular
// expressions use Go's linear-time RE2, patterns are limited to
// MaxPatternLen bytes, and matching sees at most MaxInputBytes of output.
// Quadratic similarity measures cut their inputs (the reason says so).
//
// # Model-graded checks
//
// Rubric sends RubricPrompt plus the rubric, question and output to the
// judge target and parses its verdict with ParseVerdict. Pin the judge (and
// the embedder for Embedding): a changed grader changes every score, which
// would look like drift in the model under test.
package check
