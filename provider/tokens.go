package provider

import (
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/eval"
)

// EstimateTokens returns a rough token count for text: about four ASCII bytes
// per token, one token per non-ASCII rune (CJK and emoji tokenise densely).
// It is used to charge rate limits and reserve budget before a call, never
// for reporting; providers' reported usage corrects it afterwards.
func EstimateTokens(text string) int {
	if text == "" {
		return 0
	}
	ascii, other := 0, 0
	for i := 0; i < len(text); {
		if text[i] < utf8.RuneSelf {
			ascii++
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		other++
		i += n
	}
	return (ascii+3)/4 + other
}

// messageOverheadTokens is the per-message framing chat formats add (3 in
// OpenAI's token-counting guide for its chat models, plus 3 for the reply).
const messageOverheadTokens = 3

// EstimateRequestTokens estimates the input tokens of req: its messages,
// tool definitions and per-message framing.
func EstimateRequestTokens(req *eval.Request) int {
	if req == nil {
		return 0
	}
	n := 3
	for i := range req.Messages {
		m := &req.Messages[i]
		n += messageOverheadTokens + EstimateTokens(m.Content)
		for _, tc := range m.ToolCalls {
			n += EstimateTokens(tc.Name) + EstimateTokens(tc.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += EstimateTokens(t.Name) + EstimateTokens(t.Description) + EstimateTokens(string(t.Parameters))
	}
	return n
}
