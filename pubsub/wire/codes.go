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

// BinaryPublication is the first byte of a SubprotocolBinary publication.
const BinaryPublication = 0x01
