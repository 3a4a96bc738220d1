package server_test

import (
	"log"
	"strings"

	"github.com/wsloop/wsloop/server"
)

// shout is the README's example handler.
type shout struct{}

func (shout) OnOpen(c *server.Conn) {
	// The request (path, query, headers) is available during OnOpen.
	c.SetValue(c.Request().Query().Get("name"))
}

func (shout) OnMessage(c *server.Conn, m server.Message) {
	// m.Data is valid until OnMessage returns; Send copies it.
	reply := strings.ToUpper(string(m.Data)) + ", " + c.Value().(string)
	_ = c.Send(server.Text, []byte(reply), func(err error) {
		if err != nil {
			log.Printf("not delivered to %v: %v", c.RemoteAddr(), err)
		}
	})
}

func (shout) OnClose(c *server.Conn, err error) { log.Printf("%v closed: %v", c.RemoteAddr(), err) }

// Example serves the shout handler until the process is stopped.
func Example() {
	srv := server.New(shout{}, server.WithWorkers(16))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on ws://%s/?name=you", srv.Addr())
}
