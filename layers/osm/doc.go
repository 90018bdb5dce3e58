// Package osm reads OpenStreetMap extracts (.osm XML and .osm.pbf) into
// features of the Hexward governance layers (layers.Governance), with
// github.com/paulmach/osm's streaming scanners.
//
// Read makes two passes over the file: the first keeps node coordinates,
// entrance nodes and the multipolygon and boundary relations; the second
// maps nodes and ways as they come, then the relations, whose member ways
// are joined into rings. Every feature carries source_id "osm:node/123",
// "osm:way/45" or "osm:relation/6", and only properties of its layer's
// schema, typed and within bounds; tag values that do not fit are left out
// and counted in Stats.Dropped, elements that cannot be drawn in
// Stats.Skipped.
//
// # Tag mapping
//
// MAPPING.md in this directory has the same table with notes.
//
//	OSM                                           layer         properties
//	--------------------------------------------  ------------  ------------------------------------------
//	building=* (not no), closed way or            buildings     name, name:en→name_en,
//	  multipolygon relation                                     building:levels→floors, height→height,
//	                                                            building:use or building→use,
//	                                                            addr:full or addr:*→address, phone,
//	                                                            entrance=* node on the outline→entrance
//	highway=* way (not proposed, construction…)   streets       name, name_en, highway→kind, width
//	shop=* (not vacant), amenity=restaurant,      shops         name, name_en, →category,
//	  cafe, pharmacy…, tourism=hotel… node;                     operator→owner, addr:street→street,
//	  closed way or relation: at its centroid                   phone or contact:phone (first)→phone
//	barrier=wall|fence|hedge|city_wall|           fences        barrier→kind (hedge→plant_wall,
//	  retaining_wall way                                        city_wall, retaining_wall→wall), height
//	barrier=gate|entrance|lift_gate|swing_gate|   gates         name, entrance=main|secondary|service|
//	  sliding_gate|turnstile|                                   emergency→kind main|side|side|emergency,
//	  full-height_turnstile node                                lift_gate→barrier=true, phone
//	man_made=surveillance node, surveillance:     cameras       name, camera:direction or direction
//	  type camera|ALPR|ANPR or absent                           (degrees, N…NNW, or a range a-b)→bearing
//	                                                            (a range also gives hfov, else 90),
//	                                                            camera:angle→tilt, height→mount_height,
//	                                                            operator→owner
//	landuse=residential or place=neighbourhood|   compounds     name, name_en, kind=residential,
//	  quarter, closed way or multipolygon                       ref→code, operator→property_company, phone
//	boundary=administrative admin_level=8,        subdistricts  name, name_en, ref→code, phone
//	  relation (type boundary or multipolygon)
//	  or closed way
//	boundary=administrative admin_level=9|10      communities   name, name_en, ref→code, population, phone
//
// Polygons are closed and follow RFC 7946: outer rings counter-clockwise,
// holes clockwise, each hole in the smallest outer ring holding it.
// Degenerate rings (fewer than three distinct points, no area) are left out
// and counted. Coordinates are rounded to 7 decimal places, OSM's
// precision, so XML and PBF give identical features.
package osm
