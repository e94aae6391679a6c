package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"accountd/model"
)

// The templates: for each name of model.MailTemplates a NAME.txt
// (text/template) that starts with its "Subject: " line, a blank line and
// then the plain-text body, and a NAME.html (html/template) body, which
// fills the blocks "title" and "content" of layout.html. They see
// model.MailData and the functions of funcs.
//
//go:embed templates/*.txt templates/*.html
var embedded embed.FS

// layoutFile is the HTML frame every NAME.html is rendered in.
const layoutFile = "layout.html"

// Templates are the parsed templates of every mail, checked to render.
type Templates struct {
	byName map[string]*template
}

type template struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Rendered is a mail's subject and its two bodies.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// funcs are the functions a template may call.
var funcs = map[string]any{
	// mask hides most of an address (model.MaskEmail): the notice of an
	// address change shows the new one to the old one this way.
	"mask": model.MaskEmail,
	// when formats an event's time, in UTC.
	"when": func(t time.Time) string { return t.UTC().Format("Monday, 2 January 2006 at 15:04 UTC") },
}

// LoadTemplates parses the embedded templates, each replaced by the file
// of the same name in dir when dir is not empty and holds one, and checks
// that every one renders the sample data of its mail: a subject line, a
// text and an HTML body, the link where the mail has one, and no link in
// the subject (subjects are logged). The error names the file at fault.
func LoadTemplates(dir string) (*Templates, error) {
	files, err := templateFiles(dir)
	if err != nil {
		return nil, err
	}
	layout, err := htmltemplate.New(layoutFile).Funcs(funcs).Parse(files[layoutFile].src)
	if err != nil {
		return nil, files[layoutFile].errorf("%v", err)
	}
	t := &Templates{byName: map[string]*template{}}
	for _, name := range model.MailTemplates() {
		txt, htm := files[name+".txt"], files[name+".html"]
		var tt template
		if tt.text, err = texttemplate.New(name + ".txt").Funcs(funcs).Parse(txt.src); err != nil {
			return nil, txt.errorf("%v", err)
		}
		frame, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if tt.html, err = frame.New(name + ".html").Parse(htm.src); err != nil {
			return nil, htm.errorf("%v", err)
		}
		t.byName[name] = &tt
		if err := t.check(name, txt, htm, files[layoutFile]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Render renders the mail name with d.
func (t *Templates) Render(name string, d model.MailData) (*Rendered, error) {
	tt := t.byName[name]
	if tt == nil {
		return nil, fmt.Errorf("no template %q", name)
	}
	var text, html bytes.Buffer
	if err := tt.text.Execute(&text, d); err != nil {
		return nil, err
	}
	subject, body, ok := splitSubject(text.String())
	if !ok {
		return nil, fmt.Errorf("%s.txt: the first line is not a Subject: line followed by a blank line", name)
	}
	// The frame's "content" and "title" blocks come from the mail's file.
	if err := tt.html.ExecuteTemplate(&html, layoutFile, d); err != nil {
		return nil, err
	}
	return &Rendered{Subject: subject, Text: body, HTML: html.String()}, nil
}

// splitSubject takes the "Subject: …" line and the blank line after it
// off a rendered text template.
func splitSubject(s string) (subject, body string, ok bool) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	first, rest, found := strings.Cut(s, "\n")
	subject, isSubject := strings.CutPrefix(first, "Subject:")
	if !found || !isSubject {
		return "", "", false
	}
	rest, blank := strings.CutPrefix(rest, "\n")
	subject = strings.TrimSpace(subject)
	if !blank || subject == "" {
		return "", "", false
	}
	return subject, rest, true
}

// sampleToken stands for a link's token in the start-up check.
const sampleToken = "SampleTokenSampleTokenSampleToken"

// SampleData is what a mail's template is checked with at start-up:
// every field set.
func SampleData() model.MailData {
	return model.MailData{
		User: model.MailUser{UUID: "00000000-0000-4000-8000-000000000000", Username: "sample", Email: "sample@example.com",
			NameFirst: "Sam", NameLast: "Ple", Language: "en"},
		App:       model.MailApp{Name: "Panel", URL: "https://panel.example.com"},
		Link:      "https://panel.example.com/auth/sample?token=" + sampleToken,
		ExpiresIn: "20 minutes", NewEmail: "new.address@example.org", Detail: "sample detail",
		Event: &model.MailEvent{Time: time.Date(2026, 5, 6, 10, 15, 0, 0, time.UTC), IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (sample)"},
	}
}

// hasLink lists the mails whose point is their link.
var hasLink = map[string]bool{model.MailPasswordReset: true, model.MailEmailChangeConfirm: true, model.MailEmailVerify: true}

// check renders name with the sample data.
func (t *Templates) check(name string, txt, htm, layout templateFile) error {
	tt := t.byName[name]
	var text, html bytes.Buffer
	if err := tt.text.Execute(&text, SampleData()); err != nil {
		return txt.errorf("%v", err)
	}
	subject, body, ok := splitSubject(text.String())
	switch {
	case !ok:
		return txt.errorf("the first line must be \"Subject: …\", then a blank line, then the body")
	case hasControl(subject):
		return txt.errorf("the subject holds a control character")
	case strings.Contains(subject, sampleToken):
		return txt.errorf("the subject must not show the link: subjects are logged, links hold secrets")
	case hasLink[name] && !strings.Contains(body, sampleToken):
		return txt.errorf("the body does not show the link ({{.Link}})")
	}
	if err := tt.html.ExecuteTemplate(&html, layoutFile, SampleData()); err != nil {
		if strings.Contains(err.Error(), "template: "+layoutFile+":") {
			return layout.errorf("%v", err)
		}
		return htm.errorf("%v", err)
	}
	if hasLink[name] && !strings.Contains(html.String(), sampleToken) {
		return htm.errorf("the body does not show the link ({{.Link}})")
	}
	return nil
}

// templateFile is one template's source and where it came from.
type templateFile struct {
	name, src string
	// path is the override's path; "" for the embedded file.
	path string
}

func (f templateFile) errorf(format string, args ...any) error {
	where := "embedded template " + f.name
	if f.path != "" {
		where = "MAIL_TEMPLATES_DIR: " + f.path
	}
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

// templateFiles reads every template file: dir's when it has one, else
// the embedded one. A .txt or .html file in dir that is no template's is
// an error, so a misspelt override is not silently ignored.
func templateFiles(dir string) (map[string]templateFile, error) {
	want := map[string]bool{layoutFile: true}
	for _, n := range model.MailTemplates() {
		want[n+".txt"], want[n+".html"] = true, true
	}
	out := map[string]templateFile{}
	for name := range want {
		b, err := embedded.ReadFile("templates/" + name)
		if err != nil {
			return nil, fmt.Errorf("embedded template %s: %w", name, err)
		}
		out[name] = templateFile{name: name, src: string(b)}
	}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("MAIL_TEMPLATES_DIR=%s: no such directory", dir)
		}
		return nil, fmt.Errorf("MAIL_TEMPLATES_DIR=%s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".txt" && ext != ".html") {
			continue
		}
		p := filepath.Join(dir, name)
		if !want[name] {
			return nil, fmt.Errorf("MAIL_TEMPLATES_DIR: %s: not a template's name (the names are %s.txt/.html and %s)",
				p, strings.Join(model.MailTemplates(), ", "), layoutFile)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("MAIL_TEMPLATES_DIR: %w", err)
		}
		out[name] = templateFile{name: name, src: string(b), path: p}
	}
	return out, nil
}
