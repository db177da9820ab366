package eval

// T is the handle a case function receives. It mirrors testing.T.
// (Being implemented: see eval/doc.go once written.)
type T struct{}
