package layers

import "regexp"

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func num(v float64) *float64 { return &v }

// Common property blocks.
var (
	pName   = Property{Name: "name", Type: String, Title: "Name", TitleZH: "名称"}
	pNameEN = Property{Name: "name_en", Type: String, Title: "English name", TitleZH: "英文名称"}
	pCode   = Property{Name: "code", Type: String, Title: "Code", TitleZH: "编码", MaxLen: 64}
	pResp   = Property{Name: "responsible", Type: String, Title: "Responsible person", TitleZH: "责任人"}
	pPhone  = Property{Name: "phone", Type: String, Title: "Phone", TitleZH: "电话", MaxLen: 32}
	pSource = Property{Name: "source_id", Type: String, Title: "Source id (e.g. OSM way/123)", TitleZH: "来源编号", MaxLen: 128}
)

func parent(titleEN, titleZH string) Property {
	return Property{Name: "parent_code", Type: String, Title: titleEN, TitleZH: titleZH, MaxLen: 64}
}

// Governance returns the catalogue of the governance layers of a
// subdistrict: the article's point-line-plane layout, walled village zones,
// gates and cameras. Order is drawing order, bottom first.
func Governance() *Catalogue {
	c, err := NewCatalogue(
		&Layer{Name: "subdistricts", Title: "Subdistricts", TitleZH: "街道", Kind: Plane, MinZoom: 8, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN, pCode, pResp, pPhone, pSource},
			Style: Style{Color: "#6a3d9a", Outline: "#6a3d9a", FillOpacity: 0.0, Width: 3}},
		&Layer{Name: "communities", Title: "Communities", TitleZH: "社区", Kind: Plane, MinZoom: 10, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN, pCode, parent("Subdistrict code", "所属街道编码"),
				{Name: "party_branch", Type: String, Title: "Party committee", TitleZH: "社区党委"},
				{Name: "population", Type: Integer, Title: "Population", TitleZH: "人口", Min: num(0)},
				pResp, pPhone, pSource},
			Style: Style{Color: "#cab2d6", Outline: "#6a3d9a", FillOpacity: 0.08, Width: 2, Dash: true}},
		&Layer{Name: "compounds", Title: "Compounds", TitleZH: "小区（片区）", Kind: Plane, MinZoom: 12, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN, pCode, parent("Community code", "所属社区编码"),
				{Name: "kind", Type: String, Title: "Kind", TitleZH: "类型", Enum: []string{"residential", "urban_village", "old_estate", "commercial", "industrial", "public"}},
				{Name: "property_company", Type: String, Title: "Property company", TitleZH: "物业公司"},
				{Name: "party_branch", Type: String, Title: "Party branch", TitleZH: "党支部"},
				pResp, pPhone, pSource},
			Style: Style{Color: "#fdbf6f", Outline: "#ff7f00", FillOpacity: 0.12, Width: 1.5,
				ColorBy: "kind", Colors: []string{"#b2df8a", "#fdbf6f", "#fb9a99", "#a6cee3", "#cccccc", "#ffff99"}}},
		&Layer{Name: "village_zones", Title: "Village zones", TitleZH: "城中村片区", Kind: Plane, MinZoom: 13, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN, pCode, parent("Compound or community code", "所属编码"),
				{Name: "manager", Type: String, Title: "Zone manager", TitleZH: "片区负责人"},
				pPhone, pSource},
			Style: Style{Color: "#e31a1c", Outline: "#e31a1c", FillOpacity: 0.05, Width: 2, Dash: true}},
		&Layer{Name: "frontages", Title: "Shop frontages (三包 areas)", TitleZH: "门前三包责任区", Kind: Plane, MinZoom: 16, MaxZoom: 22,
			Props: []Property{
				{Name: "shop_id", Type: Integer, Title: "Shop feature id", TitleZH: "商铺编号", Min: num(0)},
				{Name: "shop_name", Type: String, Title: "Shop", TitleZH: "商铺"},
				{Name: "length_m", Type: Number, Title: "Frontage length (m)", TitleZH: "门前长度（米）", Min: num(0)},
				{Name: "depth_m", Type: Number, Title: "Depth to kerb (m)", TitleZH: "进深（米）", Min: num(0)},
				pResp, pPhone, pSource},
			Style: Style{Color: "#33a02c", Outline: "#33a02c", FillOpacity: 0.25, Width: 1}},
		&Layer{Name: "buildings", Title: "Buildings", TitleZH: "楼宇", Kind: Plane, MinZoom: 14, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN,
				{Name: "address", Type: String, Title: "Address", TitleZH: "地址"},
				{Name: "floors", Type: Integer, Title: "Floors", TitleZH: "层数", Min: num(0), Max: num(200)},
				{Name: "height", Type: Number, Title: "Height (m)", TitleZH: "高度（米）", Min: num(0), Max: num(1000)},
				{Name: "use", Type: String, Title: "Use", TitleZH: "用途", Enum: []string{"residential", "commercial", "mixed", "industrial", "public", "dormitory"}},
				{Name: "households", Type: Integer, Title: "Households", TitleZH: "户数", Min: num(0)},
				{Name: "entrance", Type: PointProp, Title: "Entrance [lon, lat]", TitleZH: "出入口"},
				{Name: "compound_code", Type: String, Title: "Compound", TitleZH: "所属小区", MaxLen: 64},
				{Name: "risk_flags", Type: String, Title: "Risk flags", TitleZH: "风险标记"},
				pResp, pPhone, pSource},
			Style: Style{Color: "#bdb6a8", Outline: "#8c8273", FillOpacity: 0.85, Width: 0.5,
				ColorBy: "use", Colors: []string{"#d9cbb0", "#f4b183", "#e3c48f", "#b8b8b8", "#9dc3e6", "#c9b3d9"}}},
		&Layer{Name: "streets", Title: "Streets and alleys", TitleZH: "街巷", Kind: Line, MinZoom: 12, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN,
				{Name: "kind", Type: String, Title: "Kind", TitleZH: "类型", Enum: []string{"main", "secondary", "street", "alley", "lane", "footway"}},
				{Name: "width", Type: Number, Title: "Width (m)", TitleZH: "宽度（米）", Min: num(0), Max: num(200)},
				pSource},
			Style: Style{Color: "#ffffff", Outline: "#999999", Width: 2}},
		&Layer{Name: "courtyard_rows", Title: "Courtyard rows", TitleZH: "院落", Kind: Line, MinZoom: 15, MaxZoom: 22, Label: "name",
			Props: []Property{pName, {Name: "compound_code", Type: String, Title: "Compound", TitleZH: "所属小区", MaxLen: 64}, pResp, pPhone, pSource},
			Style: Style{Color: "#1f78b4", Width: 3}},
		&Layer{Name: "dormitory_rows", Title: "Dormitory rows", TitleZH: "宿舍区", Kind: Line, MinZoom: 15, MaxZoom: 22, Label: "name",
			Props: []Property{pName, {Name: "compound_code", Type: String, Title: "Compound", TitleZH: "所属小区", MaxLen: 64},
				{Name: "employer", Type: String, Title: "Employer", TitleZH: "用工单位"}, pResp, pPhone, pSource},
			Style: Style{Color: "#6a3d9a", Width: 3}},
		&Layer{Name: "shop_streets", Title: "Shop streets", TitleZH: "街铺", Kind: Line, MinZoom: 14, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN, {Name: "shops", Type: Integer, Title: "Shops", TitleZH: "商铺数", Min: num(0)}, pResp, pPhone, pSource},
			Style: Style{Color: "#ff7f00", Width: 4}},
		&Layer{Name: "fences", Title: "Walls and fences", TitleZH: "围墙围栏", Kind: Line, MinZoom: 14, MaxZoom: 22,
			Props: []Property{
				{Name: "kind", Type: String, Title: "Kind", TitleZH: "类型", Required: true, Enum: []string{"wall", "fence", "plant_wall", "isolation_belt"}},
				{Name: "height", Type: Number, Title: "Height (m)", TitleZH: "高度（米）", Min: num(0), Max: num(20)},
				{Name: "zone_code", Type: String, Title: "Village zone", TitleZH: "所属片区", MaxLen: 64},
				pSource},
			Style: Style{Color: "#b15928", Width: 2, ColorBy: "kind", Colors: []string{"#7f2704", "#b15928", "#33a02c", "#66c2a4"}}},
		&Layer{Name: "camera_views", Title: "Camera views", TitleZH: "摄像头视域", Kind: Plane, MinZoom: 15, MaxZoom: 22,
			Props: []Property{
				{Name: "camera_id", Type: Integer, Title: "Camera feature id", TitleZH: "摄像头编号", Min: num(0)},
				{Name: "level", Type: String, Title: "Pixel-density level", TitleZH: "像素密度等级", Enum: []string{"detect", "observe", "recognise", "identify"}},
				{Name: "range_m", Type: Number, Title: "Range (m)", TitleZH: "距离（米）", Min: num(0)},
				pSource},
			Style: Style{Color: "#1f78b4", Outline: "#1f78b4", FillOpacity: 0.18, Width: 0.5}},
		&Layer{Name: "tracks", Title: "Patrol tracks", TitleZH: "巡查轨迹", Kind: Line, MinZoom: 14, MaxZoom: 22,
			Props: []Property{
				{Name: "officer_id", Type: Integer, Title: "Officer feature id", TitleZH: "巡查员编号", Min: num(0)},
				{Name: "officer", Type: String, Title: "Officer", TitleZH: "巡查员"},
				{Name: "shift_start", Type: DateTime, Title: "Shift start", TitleZH: "班次开始"},
				{Name: "shift_end", Type: DateTime, Title: "Shift end", TitleZH: "班次结束"},
				{Name: "length_m", Type: Number, Title: "Length (m)", TitleZH: "长度（米）", Min: num(0)},
				{Name: "points", Type: Integer, Title: "Positions", TitleZH: "定位点数", Min: num(0)},
			},
			Style: Style{Color: "#00897b", Width: 2, Dash: true}},
		&Layer{Name: "shops", Title: "Shops", TitleZH: "商铺", Kind: Point, MinZoom: 16, MaxZoom: 22, Label: "name",
			Props: []Property{pName, pNameEN,
				{Name: "category", Type: String, Title: "Category", TitleZH: "类别", Enum: []string{"food", "retail", "grocery", "service", "repair", "pharmacy", "hotel", "entertainment", "other"}},
				{Name: "owner", Type: String, Title: "Owner", TitleZH: "经营者"},
				{Name: "licence", Type: String, Title: "Business licence", TitleZH: "营业执照", MaxLen: 64},
				{Name: "street", Type: String, Title: "Street", TitleZH: "所在街巷"},
				pPhone, pSource},
			Style: Style{Color: "#ff7f00", Radius: 3.5}},
		&Layer{Name: "gates", Title: "Gates", TitleZH: "闸口", Kind: Point, MinZoom: 14, MaxZoom: 22, Label: "name",
			Props: []Property{pName,
				{Name: "kind", Type: String, Title: "Kind", TitleZH: "类型", Enum: []string{"main", "side", "remote", "emergency"}},
				{Name: "booth", Type: Boolean, Title: "Booth", TitleZH: "岗亭"},
				{Name: "barrier", Type: Boolean, Title: "Barrier", TitleZH: "栅栏"},
				{Name: "staffed_hours", Type: String, Title: "Staffed hours", TitleZH: "值守时间", MaxLen: 64},
				{Name: "alarm", Type: String, Title: "Linked alarm", TitleZH: "联动报警", MaxLen: 128},
				{Name: "zone_code", Type: String, Title: "Village zone", TitleZH: "所属片区", MaxLen: 64},
				pResp, pPhone, pSource},
			Style: Style{Color: "#e31a1c", Radius: 6}},
		&Layer{Name: "cameras", Title: "Cameras", TitleZH: "摄像头", Kind: Point, MinZoom: 15, MaxZoom: 22, Label: "name",
			Props: []Property{pName,
				{Name: "mount_height", Type: Number, Title: "Mount height (m)", TitleZH: "安装高度（米）", Min: num(0), Max: num(100)},
				{Name: "bearing", Type: Number, Title: "Bearing (° from north)", TitleZH: "朝向（度）", Min: num(0), Max: num(360)},
				{Name: "hfov", Type: Number, Title: "Horizontal field of view (°)", TitleZH: "水平视场角（度）", Min: num(1), Max: num(360)},
				{Name: "tilt", Type: Number, Title: "Tilt below horizon (°)", TitleZH: "俯角（度）", Min: num(0), Max: num(90)},
				{Name: "resolution_h", Type: Integer, Title: "Horizontal pixels", TitleZH: "水平像素", Min: num(1)},
				{Name: "resolution_v", Type: Integer, Title: "Vertical pixels", TitleZH: "垂直像素", Min: num(1)},
				{Name: "recording_24h", Type: Boolean, Title: "24 h recording", TitleZH: "全天候录像"},
				{Name: "owner", Type: String, Title: "Owner", TitleZH: "权属单位"},
				pSource},
			Style: Style{Color: "#1f78b4", Radius: 5}},
		&Layer{Name: "sensors", Title: "IoT sensors", TitleZH: "物联网传感器", Kind: Point, MinZoom: 15, MaxZoom: 22, Label: "name",
			Props: []Property{pName,
				{Name: "kind", Type: String, Title: "Kind", TitleZH: "类型", Required: true, Enum: []string{"electricity", "gas", "water_immersion", "smoke", "door"}},
				{Name: "unit", Type: String, Title: "Unit", TitleZH: "单位", MaxLen: 16},
				{Name: "device", Type: String, Title: "Reporting device (account)", TitleZH: "上报设备账号", MaxLen: 64},
				{Name: "building_id", Type: Integer, Title: "Building feature id", TitleZH: "所在楼宇编号", Min: num(0)},
				{Name: "warn_above", Type: Number, Title: "Warning above", TitleZH: "预警阈值"},
				{Name: "alarm_above", Type: Number, Title: "Alarm above", TitleZH: "报警阈值"},
				{Name: "hysteresis", Type: Number, Title: "Hysteresis", TitleZH: "回差", Min: num(0)},
				{Name: "min_duration_s", Type: Integer, Title: "Minimum duration (s)", TitleZH: "持续时间（秒）", Min: num(0)},
				{Name: "offline_after_s", Type: Integer, Title: "Offline after (s)", TitleZH: "离线判定（秒）", Min: num(0)},
				{Name: "status", Type: String, Title: "Status", TitleZH: "状态", Enum: []string{"normal", "warning", "alarm", "offline"}},
				pResp, pPhone, pSource},
			Style: Style{Color: "#6d4c41", Radius: 4, ColorBy: "status", Colors: []string{"#43a047", "#fb8c00", "#e53935", "#757575"}}},
		&Layer{Name: "officers", Title: "Officers (last position)", TitleZH: "巡查人员（最新位置）", Kind: Point, MinZoom: 13, MaxZoom: 22, Label: "name",
			Props: []Property{pName,
				{Name: "duty", Type: String, Title: "Duty", TitleZH: "职责", Enum: []string{"patrol", "safety", "grid_worker", "guard", "volunteer"}},
				{Name: "device", Type: String, Title: "Phone (account)", TitleZH: "终端账号", MaxLen: 64},
				{Name: "team", Type: String, Title: "Team", TitleZH: "队伍"},
				{Name: "fix_time", Type: DateTime, Title: "Position time", TitleZH: "定位时间"},
				{Name: "speed", Type: Number, Title: "Speed (m/s)", TitleZH: "速度（米/秒）", Min: num(0)},
				{Name: "bearing", Type: Number, Title: "Heading (°)", TitleZH: "方向（度）", Min: num(0), Max: num(360)},
				{Name: "accuracy", Type: Number, Title: "Accuracy (m)", TitleZH: "精度（米）", Min: num(0)},
				{Name: "battery", Type: Number, Title: "Battery (%)", TitleZH: "电量（%）", Min: num(0), Max: num(100)},
				{Name: "available", Type: Boolean, Title: "Available for dispatch", TitleZH: "可调度"},
				pPhone, pSource},
			Style: Style{Color: "#00897b", Radius: 6}},
		&Layer{Name: "alerts", Title: "Alerts", TitleZH: "告警", Kind: Point, MinZoom: 10, MaxZoom: 22, Label: "title",
			Props: []Property{
				{Name: "title", Type: String, Title: "Alert", TitleZH: "告警"},
				{Name: "severity", Type: String, Title: "Severity", TitleZH: "级别", Required: true, Enum: []string{"critical", "major", "minor", "warning"}},
				{Name: "state", Type: String, Title: "State", TitleZH: "状态", Required: true, Enum: []string{"raised", "acknowledged", "dispatched", "resolved"}},
				{Name: "condition", Type: String, Title: "Condition", TitleZH: "条件", MaxLen: 64},
				{Name: "source", Type: String, Title: "Source", TitleZH: "来源", MaxLen: 128},
				{Name: "cleared", Type: Boolean, Title: "Cleared by source", TitleZH: "已自动恢复"},
				{Name: "value", Type: Number, Title: "Value", TitleZH: "读数"},
				{Name: "raised_at", Type: DateTime, Title: "Raised", TitleZH: "发生时间"},
				{Name: "acknowledged_by", Type: String, Title: "Acknowledged by", TitleZH: "确认人", MaxLen: 64},
				{Name: "dispatched_to", Type: String, Title: "Dispatched to", TitleZH: "派遣给", MaxLen: 128},
				{Name: "note", Type: String, Title: "Resolution note", TitleZH: "处置说明"},
			},
			Style: Style{Color: "#e53935", Radius: 8, ColorBy: "severity", Colors: []string{"#b71c1c", "#e53935", "#fb8c00", "#fdd835"}}},
	)
	if err != nil {
		panic(err) // the built-in catalogue is a constant; a bad one is a programming error
	}
	return c
}
