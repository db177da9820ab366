package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// templates holds one template set per page, each the layout plus the page.
type templates struct {
	sets map[string]*template.Template
}

var pageNames = []string{"overview", "runs", "run", "case", "trend", "alerts", "error"}

func parseTemplates() (*templates, error) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// css is our own embedded stylesheet, never user data.
		"css":     func() template.CSS { return template.CSS(css) },
		"ts":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"tsp":     func(t *time.Time) string { return tsPtr(t) },
		"pct":     pct,
		"usd":     func(v float64) string { return fmt.Sprintf("$%.4f", v) },
		"lower":   strings.ToLower,
		"short":   short,
		"caseURL": func(id int64, key string) string { return fmt.Sprintf("/runs/%d/cases/%s", id, url.PathEscape(key)) },
		"trendURL": func(suite, target string) string {
			return "/trend?" + url.Values{"suite": {suite}, "target": {target}}.Encode()
		},
		"runsURL": func(suite, target string) string {
			return "/runs?" + url.Values{"suite": {suite}, "target": {target}}.Encode()
		},
		"ids": func(ids []int64) string {
			s := make([]string, len(ids))
			for i, id := range ids {
				s[i] = fmt.Sprint(id)
			}
			return strings.Join(s, ", ")
		},
		"score": func(p *float64) string {
			if p == nil {
				return "–"
			}
			return fmt.Sprintf("%.2f", *p)
		},
		"deref": func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		},
		"add": func(a, b int) int { return a + b },
	}
	t := &templates{sets: map[string]*template.Template{}}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/chart.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, name := range pageNames {
		set, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		t.sets[name] = set
	}
	return t, nil
}

func (t *templates) render(w io.Writer, name string, p page) error {
	set, ok := t.sets[name]
	if !ok {
		return fmt.Errorf("web: no template %q", name)
	}
	if err := set.ExecuteTemplate(w, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return nil
}

func tsPtr(t *time.Time) string {
	if t == nil {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// pct formats a rate (float64 or *float64) as a percentage.
func pct(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%.1f%%", 100*x)
	case *float64:
		if x == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100**x)
	}
	return "–"
}
