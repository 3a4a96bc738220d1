package wire

// Subprotocols (Sec-WebSocket-Protocol) pick the form of publications;
// requests and answers are JSON text in both. A client that negotiates
// none speaks SubprotocolJSON.
const (
	SubprotocolJSON   = "wsloop.json"
	SubprotocolBinary = "wsloop.bin"
)

// Ops: what a JSON message is, its "op" member.
const (
	OpSubscribe    = "subscribe"    // client → server
	OpUnsubscribe  = "unsubscribe"  // client → server
	OpPublish      = "publish"      // client → server, with entitlements
	OpRefresh      = "refresh"      // client → server: a new token before the current one expires
	OpSubscribed   = "subscribed"   // answer to subscribe
	OpUnsubscribed = "unsubscribed" // answer to unsubscribe
	OpPublished    = "published"    // answer to publish
	OpRefreshed    = "refreshed"    // answer to refresh
	OpMsg          = "msg"          // a publication (SubprotocolJSON)
	OpError        = "error"        // answer to a request that failed
)

// Recovery outcomes, the "recovery" member of a subscribed answer to a
// subscribe with "since".
const (
	RecoveryOK     = "ok"     // the missed messages follow
	RecoveryFailed = "failed" // they cannot: the stream continues from the current position
)

// Error codes, the "code" member of an error answer.
const (
	CodeBadRequest           = "bad_request"            // not JSON, unknown op, binary message, bad id
	CodeBadTopic             = "bad_topic"              // a topic name outside the rules
	CodeBadPosition          = "bad_position"           // since.epoch is not 16 hex digits
	CodeAlreadySubscribed    = "already_subscribed"     // subscribe to a topic subscribed already
	CodeNotSubscribed        = "not_subscribed"         // unsubscribe from a topic not subscribed
	CodeTooManySubscriptions = "too_many_subscriptions" // the connection's limit
	CodeUnavailable          = "unavailable"            // the broker failed: the server's fault
	CodeForbidden            = "forbidden"              // the token does not entitle the user to the topic
	CodeUnauthorized         = "unauthorized"           // refresh: the token is invalid, expired or another user's
)

// CloseTokenExpired is the close code of a connection whose token expired
// without a refresh: 3000, registered with IANA as "Unauthorized" (RFC
// 6455 §7.4.2 gives 3000-3999 to libraries and frameworks).
const CloseTokenExpired = 3000

// Kind is what a publication is: the first byte of its SubprotocolBinary
// form, and the "kind" member of its JSON form (absent for Publication).
type Kind byte

// Kinds of publications.
const (
	Publication Kind = 0x01 // a message; with a key, the key's new value
	Delta       Kind = 0x02 // a key's new value as a Fossil delta against its previous one (binary form only)
	Snapshot    Kind = 0x03 // a key's current value, sent after "subscribed" with "snapshot"
	Delete      Kind = 0x04 // the key is removed from the topic's state (no data)
	Event       Kind = 0x05 // a keyed message that is not state (a trade): never conflated, not kept
)

// BinaryPublication is the first byte of a SubprotocolBinary publication
// of kind Publication.
const BinaryPublication = byte(Publication)

// String is the kind's JSON name: "" for Publication, else "delta",
// "snapshot", "delete" or "event".
func (k Kind) String() string {
	switch k {
	case Delta:
		return "delta"
	case Snapshot:
		return "snapshot"
	case Delete:
		return "delete"
	case Event:
		return "event"
	}
	return ""
}

// ParseKind is the Kind of a JSON "kind" member ("" is Publication).
func ParseKind(s string) (Kind, bool) {
	for k := Publication; k <= Event; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// DeltaFossil is the "delta" member of a subscribe asking for Fossil
// deltas (fossil-scm's delta format).
const DeltaFossil = "fossil"

// RecoverySnapshot is the "recovery" outcome of a subscribe with "since"
// and "snapshot" whose gap could not be filled: a snapshot follows.
const RecoverySnapshot = "snapshot"
