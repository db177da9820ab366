package suites

import (
	"encoding/json"
	"fmt"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/check"
)

// The tools the support agent of ToolUse may call.
var (
	lookupOrderTool = eval.Tool{
		Name:        "lookup_order",
		Description: "Look up an order by its number and return its status.",
		Parameters: json.RawMessage(`{"type":"object","required":["order_id"],"additionalProperties":false,` +
			`"properties":{"order_id":{"type":"string","pattern":"^[A-Z]{2}-[0-9]{5}$"}}}`),
	}
	weatherTool = eval.Tool{
		Name:        "get_weather",
		Description: "Get the weather forecast for a city for the next days.",
		Parameters: json.RawMessage(`{"type":"object","required":["city","days"],"additionalProperties":false,` +
			`"properties":{"city":{"type":"string","minLength":2},"days":{"type":"integer","minimum":1,"maximum":7}}}`),
	}
	supportTools = []eval.Tool{lookupOrderTool, weatherTool}
)

// toolTask is one case of ToolUse. With tool empty the model must answer
// without calling a tool.
type toolTask struct {
	id     string
	prompt string // the user's message, hint included
	tool   string // the tool that must be called
	arg    string // argument that must carry want
	want   any    // the argument's expected value
	result string // the tool's result sent back
	facts  []string
}

var toolTasks = []toolTask{
	{id: "order-status", tool: "lookup_order", arg: "order_id", want: "NL-10492",
		prompt: "Where is my order NL-10492? It was due on Monday. Use lookup_order to check. [[sim:expect=NL-10492]]",
		result: "Order NL-10492 shipped with DHL and arrives on Thursday.", facts: []string{"DHL", "Thursday"}},
	{id: "order-cancel-check", tool: "lookup_order", arg: "order_id", want: "DE-55210",
		prompt: "Can I still cancel order DE-55210? Call lookup_order first. [[sim:expect=DE-55210]]",
		result: "Order DE-55210 is being packed and can no longer be cancelled.", facts: []string{"packed", "no longer"}},
	{id: "order-missing-item", tool: "lookup_order", arg: "order_id", want: "FR-70031",
		prompt: "My parcel for FR-70031 arrived without the charger. Please look it up with lookup_order. [[sim:expect=FR-70031]]",
		result: "Order FR-70031 was split into two parcels; the charger ships separately tomorrow.", facts: []string{"two parcels", "tomorrow"}},
	{id: "order-refund-status", tool: "lookup_order", arg: "order_id", want: "UK-31877",
		prompt: "Has the refund for UK-31877 gone out yet? Check it with lookup_order. [[sim:expect=UK-31877]]",
		result: "Refund for order UK-31877 was issued on 3 March to the original card.", facts: []string{"3 March", "card"}},
	{id: "order-address", tool: "lookup_order", arg: "order_id", want: "ES-40218",
		prompt: "Which address is order ES-40218 going to? Use the lookup_order tool. [[sim:expect=ES-40218]]",
		result: "Order ES-40218 ships to the Madrid pickup point on Calle Mayor.", facts: []string{"Madrid", "pickup point"}},
	{id: "weather-lisbon", tool: "get_weather", arg: "city", want: "Lisbon",
		prompt: "Will it rain in Lisbon in the next 3 days? I'm picking up my order there. Use get_weather. [[sim:expect=Lisbon]]",
		result: "Lisbon: dry and sunny for the next 3 days, highs of 24 C.", facts: []string{"sunny"}},
	{id: "weather-oslo", tool: "get_weather", arg: "city", want: "Oslo",
		prompt: "What's the weather in Oslo for the next 2 days? Use get_weather, the courier asks. [[sim:expect=Oslo]]",
		result: "Oslo: snow showers for the next 2 days, around -3 C.", facts: []string{"snow"}},
	{id: "weather-days", tool: "get_weather", arg: "days", want: float64(5),
		prompt: "Call get_weather for Vienna for the next 5 days, please.",
		result: "Vienna: mild and cloudy for the next 5 days.", facts: []string{"cloudy"}},
	{id: "smalltalk-thanks",
		prompt: "Thanks, that's everything I needed today. Have a nice evening!"},
	{id: "smalltalk-hours",
		prompt: "Are your support agents available on weekends?"},
}

// ToolUse is a support agent with two declared tools, lookup_order and
// get_weather. A case either needs a tool, and then the model must call the
// right one with arguments that validate against the tool's JSON Schema and
// carry the value from the user's message, and after the tool result it must
// answer with the result's facts; or it needs none, and the model must
// answer without calling a tool. The answer category is the called tool's
// name, or "none".
func ToolUse() eval.Suite {
	opts := eval.SuiteOpts{
		Samples:     2,
		Description: "A support agent calls declared tools with valid arguments and uses their results.",
		Version:     "1",
		System:      "You are the support agent of an online shop. Use the tools when they help.",
		Params:      eval.Params{Temperature: ptr(0.0), MaxTokens: 200},
	}
	cases := make([]eval.Case, 0, len(toolTasks))
	for _, tt := range toolTasks {
		cases = append(cases, eval.CaseFunc(tt.id, tt.run))
	}
	return eval.NewSuite("tool-use", opts, cases...)
}

func (tt toolTask) run(t *eval.T) {
	t.SetTools(supportTools)
	msgs := []eval.Message{{Role: eval.RoleUser, Content: tt.prompt}}
	r := t.Chat(msgs...)
	answer := "none"
	if len(r.ToolCalls) > 0 {
		answer = r.ToolCalls[0].Name
	}
	t.SetAnswer(answer)
	if tt.tool == "" {
		t.Check(r.Text, check.Not(mustToolCall("", "")), check.NotRefusal())
		return
	}
	if !t.Check(r.Text, mustToolCall(tt.tool, ""), argIs(tt.tool, tt.arg, tt.want)) {
		return
	}
	call := r.ToolCalls[0]
	msgs = append(msgs,
		eval.Message{Role: eval.RoleAssistant, ToolCalls: r.ToolCalls},
		eval.Message{Role: eval.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: tt.result},
	)
	r = t.Chat(msgs...)
	t.Check(r.Text, check.Not(mustToolCall("", "")), check.IContainsAll(tt.facts...))
}

// mustToolCall is check.ToolCall for arguments known to be valid.
func mustToolCall(name, schema string) eval.Checker {
	c, err := check.ToolCall(name, schema)
	if err != nil {
		panic(err)
	}
	return c
}

// argIs passes when the first call of tool has argument arg equal to want
// (compared as JSON values).
func argIs(tool, arg string, want any) eval.Checker {
	return check.Func(fmt.Sprintf("%s.%s = %v", tool, arg, want), func(in eval.CheckInput) (bool, float64, string) {
		if in.Response == nil {
			return false, 0, "no response to read tool calls from"
		}
		for _, c := range in.Response.ToolCalls {
			if c.Name != tool {
				continue
			}
			var args map[string]any
			if err := json.Unmarshal([]byte(c.Arguments), &args); err != nil {
				return false, 0, "arguments are not a JSON object: " + err.Error()
			}
			if got, ok := args[arg]; !ok || got != want {
				return false, 0, fmt.Sprintf("%s is %v, want %v", arg, got, want)
			}
			return true, 1, fmt.Sprintf("%s is %v", arg, want)
		}
		return false, 0, "no call of " + tool
	})
}
