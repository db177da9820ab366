package eval

import "fmt"

// ParamProblem is a sampling parameter outside the range every provider
// accepts: Field is its YAML name (temperature, top_p, max_tokens).
type ParamProblem struct {
	Field, Msg string
}

// Problems returns the fields of p that no provider accepts, so that a
// config or suite is rejected when it loads rather than by the API at the
// first request (or, worse, silently: a negative max_tokens is not sent).
// Temperature lies in [0, 2] (OpenAI's range; Anthropic's is [0, 1]),
// top_p in [0, 1], max_tokens is not negative.
func (p Params) Problems() []ParamProblem {
	var out []ParamProblem
	if t := p.Temperature; t != nil && !(*t >= 0 && *t <= 2) {
		out = append(out, ParamProblem{"temperature", fmt.Sprintf("must be between 0 and 2, got %v", *t)})
	}
	if t := p.TopP; t != nil && !(*t >= 0 && *t <= 1) {
		out = append(out, ParamProblem{"top_p", fmt.Sprintf("must be between 0 and 1, got %v", *t)})
	}
	if p.MaxTokens < 0 {
		out = append(out, ParamProblem{"max_tokens", fmt.Sprintf("must not be negative, got %d (0 or absent means the provider's default)", p.MaxTokens)})
	}
	return out
}
