// Command promptfooagree is the Driftwatch side of
// bench/promptfoo_agreement.sh: it serves the deterministic simulator,
// grades promptfoo configs with Driftwatch, and compares those verdicts
// with promptfoo's, assertion by assertion.
//
//	promptfooagree sim -addr 127.0.0.1:18189
//	promptfooagree grade -base http://127.0.0.1:18189/v1 -out dw.jsonl CONFIG...
//	promptfooagree compare -dw dw.jsonl NAME=promptfoo-results.json...
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/driftwatch/driftwatch/eval/promptfoo"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
)

// Model is the simulated model both tools call.
const Model = "pf-sim"

// deterministic are the assertion types whose verdict depends on the
// output alone (not on a judge, an embedder, timing or prices): the
// agreement is measured on them.
var deterministic = map[string]bool{
	"equals": true, "contains": true, "icontains": true, "contains-any": true, "contains-all": true,
	"icontains-any": true, "icontains-all": true, "starts-with": true, "regex": true, "is-json": true,
	"contains-json": true, "levenshtein": true, "javascript": true, "python": true, "finish-reason": true,
	"is-valid-openai-tools-call": true,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: promptfooagree sim|grade|compare ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "sim":
		err = serve(ctx, os.Args[2:])
	case "grade":
		err = grade(ctx, os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "promptfooagree:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18189", "listen address")
	_ = fs.Parse(args)
	srv, err := sim.New(sim.Config{Seed: 7, Models: []sim.Model{{Name: Model, Profile: sim.Profile{Accuracy: 1, Deterministic: true}}}})
	if err != nil {
		return err
	}
	url, stopSrv, err := srv.Start(ctx, *addr)
	if err != nil {
		return err
	}
	fmt.Println("simulator on", url)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return stopSrv(sctx)
}

// verdict is one assertion's verdict on one (test row, prompt) pair.
type verdict struct {
	Config    string `json:"config"`
	TestIdx   int    `json:"test_idx"`
	PromptIdx int    `json:"prompt_idx"`
	Index     int    `json:"index"`
	Type      string `json:"type"`
	Pass      bool   `json:"pass"`
	Skipped   string `json:"skipped,omitempty"`
}

func (v verdict) key() string {
	return fmt.Sprintf("%s/%d/%d/%d", v.Config, v.TestIdx, v.PromptIdx, v.Index)
}

func grade(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("grade", flag.ExitOnError)
	base := fs.String("base", "http://127.0.0.1:18189/v1", "the simulator's OpenAI base URL")
	out := fs.String("out", "dw.jsonl", "verdicts file")
	_ = fs.Parse(args)
	target, err := openai.New(openai.Config{BaseURL: *base, Model: Model, APIKey: "sk-bench"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, path := range fs.Args() {
		s, err := promptfoo.Load(path, promptfoo.Options{})
		if err != nil {
			return fmt.Errorf("load %s: %w", path, err)
		}
		name := configName(path)
		for _, c := range s.Details() {
			if c.SkipReason != "" {
				for i, a := range c.Asserts {
					_ = enc.Encode(verdict{Config: name, TestIdx: c.TestIndex, PromptIdx: c.PromptIndex, Index: i, Type: a.Type, Skipped: c.SkipReason})
				}
				continue
			}
			resp, err := target.Complete(ctx, c.Request)
			if err != nil {
				return fmt.Errorf("%s %s: %w", path, c.ID, err)
			}
			g := c.Grade(ctx, resp)
			for i, r := range g.Results {
				_ = enc.Encode(verdict{Config: name, TestIdx: c.TestIndex, PromptIdx: c.PromptIndex, Index: i, Type: r.Type, Pass: r.Pass})
			}
		}
	}
	return w.Flush()
}

// configName names a config by its folder (promptfooconfig.yaml) or file.
func configName(path string) string {
	if strings.HasPrefix(filepath.Base(path), "promptfooconfig.") {
		return filepath.Base(filepath.Dir(path))
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// pfResults is the part of promptfoo's -o results.json the comparison reads.
type pfResults struct {
	Results struct {
		Results []struct {
			TestIdx       int    `json:"testIdx"`
			PromptIdx     int    `json:"promptIdx"`
			Error         string `json:"error"`
			GradingResult *struct {
				ComponentResults []struct {
					Pass      bool `json:"pass"`
					Assertion *struct {
						Type string `json:"type"`
					} `json:"assertion"`
				} `json:"componentResults"`
			} `json:"gradingResult"`
		} `json:"results"`
	} `json:"results"`
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	dwPath := fs.String("dw", "dw.jsonl", "Driftwatch's verdicts")
	_ = fs.Parse(args)
	dw := map[string]verdict{}
	f, err := os.Open(*dwPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return err
		}
		dw[v.key()] = v
	}
	var (
		agree, total, skipped, other, errored int
		byType                                = map[string][2]int{}
		disagreements                         []string
		seen                                  = map[string]bool{}
		erroredRows                           = map[string]bool{} // config/test/prompt rows promptfoo could not grade
	)
	for _, arg := range fs.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("want NAME=results.json, got %q", arg)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r pfResults
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, res := range r.Results.Results {
			if res.GradingResult == nil || len(res.GradingResult.ComponentResults) == 0 && res.Error != "" {
				erroredRows[fmt.Sprintf("%s/%d/%d", name, res.TestIdx, res.PromptIdx)] = true
				continue
			}
			for i, cr := range res.GradingResult.ComponentResults {
				if cr.Assertion == nil {
					continue
				}
				v := verdict{Config: name, TestIdx: res.TestIdx, PromptIdx: res.PromptIdx, Index: i, Type: cr.Assertion.Type}
				base := strings.TrimPrefix(v.Type, "not-")
				if !deterministic[base] {
					other++
					continue
				}
				d, found := dw[v.key()]
				seen[v.key()] = true
				switch {
				case !found:
					disagreements = append(disagreements, fmt.Sprintf("%s %s: promptfoo %v, Driftwatch has no verdict", v.key(), v.Type, cr.Pass))
					total++
				case d.Skipped != "":
					skipped++
				case d.Type != v.Type:
					disagreements = append(disagreements, fmt.Sprintf("%s: promptfoo graded %s, Driftwatch %s", v.key(), v.Type, d.Type))
					total++
				default:
					total++
					t := byType[base]
					t[1]++
					if d.Pass == cr.Pass {
						agree++
						t[0]++
					} else {
						disagreements = append(disagreements, fmt.Sprintf("%s %s: promptfoo %v, Driftwatch %v", v.key(), v.Type, cr.Pass, d.Pass))
					}
					byType[base] = t
				}
			}
		}
	}
	for k, v := range dw {
		if !seen[k] && deterministic[strings.TrimPrefix(v.Type, "not-")] && v.Skipped == "" && configListed(v.Config, fs.Args()) {
			if erroredRows[fmt.Sprintf("%s/%d/%d", v.Config, v.TestIdx, v.PromptIdx)] {
				errored++
				continue
			}
			disagreements = append(disagreements, fmt.Sprintf("%s %s: Driftwatch %v, promptfoo has no verdict", k, v.Type, v.Pass))
			total++
		}
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Printf("  %-28s %d/%d\n", t, byType[t][0], byType[t][1])
	}
	sort.Strings(disagreements)
	for _, d := range disagreements {
		fmt.Println("  DISAGREE", d)
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(agree) / float64(total)
	}
	fmt.Printf("agreement: %d/%d deterministic assertion verdicts (%.1f%%); %d skipped by Driftwatch as unsupported; %d in rows promptfoo could not grade; %d model-graded, similarity or timing verdicts not compared\n",
		agree, total, pct, skipped, errored, other)
	return nil
}

func configListed(name string, args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}
