package osm

// Shop categories of the shops layer, from shop=*, amenity=* and
// tourism=*. A shop=* value missing from shopCategories is "other";
// amenity and tourism values missing from their tables are not shops.

func categories(cat string, values ...string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		m[v] = cat
	}
	return m
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			if _, dup := out[k]; dup {
				panic("osm: category of " + k + " given twice")
			}
			out[k] = v
		}
	}
	return out
}

var shopCategories = merge(
	categories("food", "bakery", "pastry", "confectionery", "ice_cream", "chocolate"),
	categories("grocery", "supermarket", "convenience", "greengrocer", "butcher", "seafood",
		"grocery", "general", "deli", "dairy", "frozen_food", "farm", "alcohol", "beverages",
		"wine", "tea", "coffee", "spices", "cheese", "health_food", "water", "rice", "nuts"),
	categories("pharmacy", "chemist", "medical_supply", "herbalist"),
	categories("repair", "car_repair", "motorcycle_repair", "repair", "electronics_repair",
		"computer_repair", "mobile_phone_repair", "shoe_repair", "watch_repair", "tyres"),
	categories("service", "hairdresser", "beauty", "massage", "laundry", "dry_cleaning",
		"tailor", "copyshop", "photo", "funeral_directors", "travel_agency", "estate_agent",
		"pawnbroker", "money_lender", "tattoo", "locksmith", "storage_rental", "rental",
		"ticket", "key_cutter", "printing"),
	categories("entertainment", "games", "video_games", "lottery"),
	categories("retail", "clothes", "shoes", "bag", "boutique", "fashion", "fashion_accessories",
		"jewelry", "watches", "cosmetics", "perfumery", "electronics", "mobile_phone", "computer",
		"hifi", "appliance", "hardware", "doityourself", "furniture", "interior_decoration",
		"kitchen", "houseware", "bed", "curtain", "fabric", "books", "stationery", "gift", "toys",
		"sports", "outdoor", "bicycle", "car", "car_parts", "motorcycle", "optician", "florist",
		"garden_centre", "pet", "variety_store", "department_store", "mall", "second_hand",
		"kiosk", "newsagent", "tobacco", "e-cigarette", "baby_goods", "craft", "music",
		"musical_instrument", "art", "paint", "glaziery", "lighting", "electrical", "trade",
		"wholesale", "tiles", "doors", "flooring", "bathroom_furnishing", "security",
		"telecommunication", "antiques", "charity", "frame", "sewing", "fishing"),
)

var amenityCategory = merge(
	categories("food", "restaurant", "cafe", "fast_food", "food_court", "ice_cream"),
	categories("grocery", "marketplace"),
	categories("pharmacy", "pharmacy"),
	categories("entertainment", "bar", "pub", "biergarten", "nightclub", "karaoke_box",
		"cinema", "theatre", "casino", "gambling", "internet_cafe"),
	categories("service", "bank", "bureau_de_change", "money_transfer", "post_office",
		"car_wash", "car_rental", "fuel", "clinic", "dentist", "doctors", "veterinary",
		"driving_school"),
)

var tourismCategory = categories("hotel", "hotel", "hostel", "guest_house", "motel", "apartment")
