// Package provider holds the pieces every model provider shares: a redacting
// Secret type, the retry policy and error classification, a rate-limit
// wrapper, a price table with a cost function, a run budget and a token
// estimator.
//
// Provider families live in sub-packages (provider/openai for every
// OpenAI-compatible endpoint, provider/anthropic for the native Messages
// API). Each returns a concrete *Client that satisfies eval.Target. The
// sub-packages never import each other; they meet in app/.
package provider
