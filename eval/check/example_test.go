package check_test

import (
	"context"
	"fmt"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
)

func ExampleContainsAll() {
	r := check.ContainsAll("Paris", "France").Check(context.Background(), eval.CheckInput{Output: "Paris is lovely."})
	fmt.Println(r.Pass, r.Score)
	fmt.Println(r.Reason)
	// Output:
	// false 0.5
	// output lacks 1 of 2 values: "France"
}

func ExampleJSONSchema() {
	c := check.MustJSONSchema(`{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}`)
	r := c.Check(context.Background(), eval.CheckInput{Output: "```json\n{\"answer\": \"42\"}\n```"})
	fmt.Println(r.Pass, r.Reason)
	// Output:
	// false output does not match the schema: at '/answer': got string, want integer
}

func ExampleNew() {
	c, err := check.New(check.Spec{Type: "containz", Value: "x"}, check.Options{})
	fmt.Println(c, err)
	c, _ = check.New(check.Spec{Type: "not-icontains", Value: "AS AN AI"}, check.Options{})
	r := c.Check(context.Background(), eval.CheckInput{Output: "The answer is 4."})
	fmt.Println(r.Name, r.Pass)
	// Output:
	// <nil> unknown check type "containz" (did you mean "contains"?)
	// not icontains "AS AN AI" true
}

func ExampleIsRefusal() {
	fmt.Println(check.IsRefusal("I'm sorry, but I can't help with that."))
	fmt.Println(check.IsRefusal("Sorry for the delay, here is the answer: 42."))
	fmt.Println(check.IsRefusal("I can't wait to help you plan the trip!"))
	// Output:
	// true
	// false
	// false
}

func ExampleRubric() {
	judge := eval.TargetFunc(func(_ context.Context, _ *eval.Request) (*eval.Response, error) {
		return &eval.Response{
			Text:     `{"reason": "polite greeting", "score": 0.9, "pass": true}`,
			Identity: eval.Identity{Provider: "openai", ResolvedModel: "gpt-4o-2024-08-06"},
		}, nil
	})
	r := check.Rubric(judge, "The reply is a polite greeting.", check.RubricOpts{}).
		Check(context.Background(), eval.CheckInput{Output: "Hello there!"})
	fmt.Println(r.Pass, r.Score)
	fmt.Println(r.Reason)
	// Output:
	// true 0.9
	// judge openai/gpt-4o-2024-08-06: PASS score 0.90: polite greeting; raw "{\"reason\": \"polite greeting\", \"score\": 0.9, \"pass\": true}"
}
