package soak

// DefaultLink returns the factory of the netns phases' link on this
// machine, or nil and the reason there is none.
func DefaultLink() (LinkFactory, string) {
	return nil, "bench/impair (the TUN-based impaired netns link) is not part of this build yet"
}
