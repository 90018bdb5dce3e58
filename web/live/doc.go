// Package live is Hexward's live stream: a Hub that follows the store's
// change log and pushes, over websockets, the changes of the layers a map
// looks at, in the area it shows and the area its user may see.
//
// # Protocol
//
// Messages are JSON text frames (PROTOCOL.md has the whole description).
// The client sends
//
//	{"type":"subscribe","layers":["alerts","officers"],"bbox":[minLon,minLat,maxLon,maxLat],"zoom":16,"since":1234}
//
// (layers and bbox required, zoom and since optional; a new subscribe
// replaces the previous one). The server sends
//
//	{"type":"hello","seq":N}                       on connect: the newest change's seq
//	{"type":"feature","seq":N,"op":"insert|update|delete","layer":"…","id":7,"feature":{GeoJSON Feature}|null}
//	{"type":"tiles","seq":N,"layer":"…","bounds":[minLon,minLat,maxLon,maxLat]}  (merged: plus "boxes":[[…],…])
//	{"type":"replayed","seq":N,"count":K}           the end of a resume
//	{"type":"reload","seq":N,"detail":"…"}          too much was missed: reload, then carry on
//	{"type":"error","detail":"…"}                   a bad message; the connection stays open
//
// A change is sent when its layer is subscribed and its bounds before or
// after intersect the bbox, and, for a user with an area scope, when the
// feature's anchor (grid.Anchor, as the API's rule) lies in the area: an
// update that takes a feature out of the area is sent as a delete.
//
// # Delivery
//
// The hub takes each committed batch of changes (Publish, the store's
// subscriber), fetches the changed features once, encodes each message
// once and hands the shared bytes to every client whose subscription
// matches. Every client has a bounded queue: one that cannot keep up is
// closed with 1013 "too slow", never slowing the hub or the others.
// A subscribe with since replays the change log after that seq (at most
// MaxReplay changes, else "reload") and then continues live, without a
// gap or a duplicate: the client is subscribed to the hub before the log
// is read, and live changes that the replay held are skipped.
package live
