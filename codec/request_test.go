package codec

import (
	"net/url"
	"reflect"
	"testing"
)

var sinkString string

func TestRequest(t *testing.T) {
	raw := []byte(chromeHead)
	r := NewRequest(raw)
	raw[0] = 'X' // NewRequest copies
	for _, tc := range []struct{ name, got, want string }{
		{"Method", r.Method(), "GET"},
		{"URI", r.URI(), "/chat?room=lobby&user=al%20ice"},
		{"Path", r.Path(), "/chat"},
		{"RawQuery", r.RawQuery(), "room=lobby&user=al%20ice"},
		{"Header exact", r.Header("Sec-WebSocket-Version"), "13"},
		{"Header folded", r.Header("sec-websocket-key"), rfcKey},
		{"Header missing", r.Header("X-Missing"), ""},
		{"Cookie", r.Cookie("session"), "abc123"},
		{"Cookie quoted", r.Cookie("theme"), "dark"},
		{"Cookie missing", r.Cookie("nope"), ""},
		{"Head", r.Head(), chromeHead},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if q := r.Query(); !reflect.DeepEqual(q, url.Values{"room": {"lobby"}, "user": {"al ice"}}) {
		t.Errorf("Query = %v", q)
	}

	var names []string
	r.Headers(func(name, value string) bool {
		names = append(names, name)
		return name != "Pragma"
	})
	if !reflect.DeepEqual(names, []string{"Host", "Connection", "Pragma"}) {
		t.Errorf("Headers stopped at %v", names)
	}
	if a := testing.AllocsPerRun(100, func() {
		sinkString = r.Header("Sec-WebSocket-Extensions")
		sinkString = r.Path()
		sinkString = r.Cookie("theme")
	}); a != 0 {
		t.Errorf("accessor allocs = %v", a)
	}
}

func TestRequestEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		head                     string
		method, uri, path, query string
		header, cookieA, cookieB string
	}{
		{"GET http://h:1/a/b?x=1#f HTTP/1.1\r\n\r\n", "GET", "http://h:1/a/b?x=1#f", "/a/b", "x=1", "", "", ""},
		{"GET http://h HTTP/1.1\r\n\r\n", "GET", "http://h", "/", "", "", "", ""},
		{"GET /p#frag HTTP/1.1\r\n\r\n", "GET", "/p#frag", "/p", "", "", "", ""},
		{"GET * HTTP/1.1\r\n\r\n", "GET", "*", "*", "", "", "", ""},
		{"GARBAGE", "GARBAGE", "", "", "", "", "", ""},
		{"", "", "", "", "", "", "", ""},
		{"GET / HTTP/1.1\nX-H:  v1 \t\nX-H: v2\nCookie: a=1\nCookie: b=\"2\"; a=3\n\nX-H: body\n", "GET", "/", "/", "", "v1", "1", "2"},
		{"GET / HTTP/1.1\r\nno colon line\r\nX-H:\r\nCookie: ;;a;b=;a=x\r\n\r\n", "GET", "/", "/", "", "", "x", ""},
	} {
		r := NewRequest([]byte(tc.head))
		got := []string{r.Method(), r.URI(), r.Path(), r.RawQuery(), r.Header("x-h"), r.Cookie("a"), r.Cookie("b")}
		want := []string{tc.method, tc.uri, tc.path, tc.query, tc.header, tc.cookieA, tc.cookieB}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.head, got, want)
		}
	}
}
