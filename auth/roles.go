package auth

import "fmt"

// Role is what a user is for.
type Role string

// The roles. A device is a sensor gateway or phone that may send only its
// own readings and positions.
const (
	Admin    Role = "admin"
	Operator Role = "operator"
	Planner  Role = "planner"
	Officer  Role = "officer"
	Device   Role = "device"
	Viewer   Role = "viewer"
)

// Roles lists every role.
var Roles = []Role{Admin, Operator, Planner, Officer, Device, Viewer}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (roles: admin, operator, planner, officer, device, viewer)", s)
}

// Permission is what a route needs.
type Permission string

// The permissions. Public needs nobody; Authenticated needs any signed-in
// user; the rest are held by roles as grants says.
const (
	Public         Permission = "public"
	Authenticated  Permission = "authenticated"
	ReadMap        Permission = "read_map"        // features, tiles, style
	EditLayers     Permission = "edit_layers"     // create, change, delete features; import
	ManageAccounts Permission = "manage_accounts" // users and their tokens
	ReadAudit      Permission = "read_audit"
	OwnTokens      Permission = "own_tokens"     // list, create, revoke one's own API tokens
	SendReadings   Permission = "send_readings"  // a device's own sensors' readings
	SendPositions  Permission = "send_positions" // one's own positions (an officer's phone)
	HandleAlerts   Permission = "handle_alerts"  // acknowledge, dispatch, resolve alerts
	RunAnalyses    Permission = "run_analyses"   // recompute analyses, what-if cameras, placement, placard overrides
	// ReportIncidents: report an incident at one's position (POST
	// /api/incidents). Officers report what they see on patrol; operators
	// and admins enter what reaches the command centre. Not devices (a
	// report has a person behind it, not a phone's account), not viewers
	// (they only read), not planners (they plan from the reports; they
	// do not make them).
	ReportIncidents Permission = "report_incidents"
)

// grants is the whole policy: which role holds which permission.
var grants = map[Role][]Permission{
	Admin:    {ReadMap, EditLayers, ManageAccounts, ReadAudit, OwnTokens, HandleAlerts, RunAnalyses, ReportIncidents},
	Planner:  {ReadMap, EditLayers, OwnTokens, RunAnalyses},
	Operator: {ReadMap, OwnTokens, HandleAlerts, ReportIncidents},
	Officer:  {ReadMap, OwnTokens, SendPositions, ReportIncidents},
	Viewer:   {ReadMap, OwnTokens},
	Device:   {SendReadings, SendPositions},
}

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}
