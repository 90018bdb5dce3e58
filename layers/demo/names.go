package demo

import (
	"fmt"
	"strconv"
)

// zhen is a name in Chinese with its English (pinyin or translated) form.
type zhen struct{ zh, en string }

// Subdistrict and its communities (Dongmen subdistrict, Luohu).
var (
	subdistrictName = zhen{"东门街道", "Dongmen Subdistrict"}
	communityNames  = []zhen{
		{"湖贝", "Hubei"}, {"东门", "Dongmen"}, {"立新", "Lixin"}, {"新园", "Xinyuan"},
		{"城东", "Chengdong"}, {"花场", "Huachang"}, {"木头龙", "Mutoulong"}, {"湖西", "Huxi"},
	}
)

// Bases of street names, direction infixes and street types.
var (
	streetBases = []zhen{
		{"东门", "Dongmen"}, {"湖贝", "Hubei"}, {"人民", "Renmin"}, {"新园", "Xinyuan"},
		{"立新", "Lixin"}, {"太宁", "Taining"}, {"爱国", "Aiguo"}, {"翠竹", "Cuizhu"},
		{"文锦", "Wenjin"}, {"沿河", "Yanhe"}, {"解放", "Jiefang"}, {"晒布", "Shaibu"},
		{"春风", "Chunfeng"}, {"嘉宾", "Jiabin"}, {"建设", "Jianshe"}, {"和平", "Heping"},
		{"凤凰", "Fenghuang"}, {"延芳", "Yanfang"}, {"松园", "Songyuan"}, {"华丽", "Huali"},
		{"怡景", "Yijing"}, {"东晓", "Dongxiao"}, {"布心", "Buxin"}, {"水贝", "Shuibei"},
		{"田贝", "Tianbei"}, {"贝丽", "Beili"}, {"金湖", "Jinhu"}, {"洪湖", "Honghu"},
		{"宝岗", "Baogang"}, {"红岭", "Hongling"}, {"笋岗", "Sungang"}, {"东昌", "Dongchang"},
		{"黄贝", "Huangbei"}, {"罗芳", "Luofang"}, {"莲塘", "Liantang"}, {"桂园", "Guiyuan"},
	}
	directions = []zhen{{"东", "East"}, {"西", "West"}, {"南", "South"}, {"北", "North"}, {"中", "Central"}}
	sideDir    = [4]zhen{{"南", "South"}, {"东", "East"}, {"北", "North"}, {"西", "West"}} // S, E, N, W
)

// Urban-village names of the area and the quarters (坊) villages are split into.
var (
	villageBases = []zhen{
		{"湖贝", "Hubei"}, {"向西", "Xiangxi"}, {"黄贝岭", "Huangbeiling"}, {"渔民", "Yumin"},
		{"蔡屋围", "Caiwuwei"}, {"罗芳", "Luofang"}, {"水贝", "Shuibei"}, {"田贝", "Tianbei"},
		{"笋岗", "Sungang"}, {"木头龙", "Mutoulong"}, {"布心", "Buxin"}, {"草埔", "Caopu"},
		{"大望", "Dawang"}, {"新秀", "Xinxiu"}, {"赤水洞", "Chishuidong"}, {"清水河", "Qingshuihe"},
		{"玉龙", "Yulong"}, {"独树", "Dushu"}, {"坳下", "Aoxia"}, {"围仔", "Weizai"},
		{"塘坑", "Tangkeng"}, {"西岭", "Xiling"}, {"长岭", "Changling"}, {"仙湖", "Xianhu"},
		{"向东", "Xiangdong"}, {"新围", "Xinwei"}, {"泥岗", "Nigang"}, {"上步", "Shangbu"},
	}
	quarters = []zhen{
		{"东坊", "East Quarter"}, {"西坊", "West Quarter"}, {"南坊", "South Quarter"}, {"北坊", "North Quarter"},
		{"中坊", "Central Quarter"}, {"新坊", "New Quarter"}, {"上坊", "Upper Quarter"}, {"下坊", "Lower Quarter"},
	}
)

// Bases and suffixes of the names of the other compounds.
var (
	estateBases = []zhen{
		{"翠竹", "Cuizhu"}, {"金湖", "Jinhu"}, {"东湖", "Donghu"}, {"爱国", "Aiguo"}, {"新园", "Xinyuan"},
		{"立新", "Lixin"}, {"湖景", "Hujing"}, {"松园", "Songyuan"}, {"华丽", "Huali"}, {"桂园", "Guiyuan"},
		{"文锦", "Wenjin"}, {"嘉宾", "Jiabin"}, {"春风", "Chunfeng"}, {"晒布", "Shaibu"}, {"太白", "Taibai"},
		{"怡景", "Yijing"}, {"凤凰", "Fenghuang"}, {"鹿丹", "Ludan"}, {"银湖", "Yinhu"}, {"清水", "Qingshui"},
		{"洪湖", "Honghu"}, {"莲花", "Lianhua"}, {"锦绣", "Jinxiu"}, {"碧波", "Bibo"}, {"丽晶", "Lijing"},
		{"金城", "Jincheng"}, {"华城", "Huacheng"}, {"海燕", "Haiyan"}, {"望桐", "Wangtong"}, {"翠拥", "Cuiyong"},
		{"文华", "Wenhua"}, {"金丽", "Jinli"}, {"荔景", "Lijing"}, {"宝丽", "Baoli"}, {"东乐", "Dongle"},
		{"新港", "Xingang"}, {"鸿图", "Hongtu"}, {"百花", "Baihua"}, {"蔚蓝", "Weilan"}, {"阳光", "Yangguang"},
		{"星河", "Xinghe"}, {"锦湖", "Jinhu"}, {"万象", "Wanxiang"}, {"东港", "Donggang"}, {"翠园", "Cuiyuan"},
	}
	kindSuffix = map[string][]zhen{
		kindResidential: {{"花园", "Garden"}, {"苑", "Court"}, {"雅居", "Residence"}, {"名城", "City"}, {"豪庭", "Mansion"}},
		kindOldEstate:   {{"小区", "Estate"}, {"住宅区", "Housing Estate"}, {"大院", "Compound"}},
		kindCommercial:  {{"大厦", "Tower"}, {"广场", "Plaza"}, {"商业中心", "Commercial Centre"}},
		kindPublic:      {{"小学", "Primary School"}, {"中学", "Middle School"}, {"社康中心", "Community Health Centre"}, {"文体中心", "Culture and Sports Centre"}},
		kindIndustrial:  {{"工业区", "Industrial Park"}, {"工业大厦", "Industrial Building"}},
	}
	phases = []zhen{{"二期", "Phase II"}, {"三期", "Phase III"}, {"四期", "Phase IV"}, {"五期", "Phase V"}}
)

// People.
var (
	surnames = []zhen{
		{"王", "Wang"}, {"李", "Li"}, {"张", "Zhang"}, {"刘", "Liu"}, {"陈", "Chen"}, {"杨", "Yang"},
		{"黄", "Huang"}, {"赵", "Zhao"}, {"吴", "Wu"}, {"周", "Zhou"}, {"徐", "Xu"}, {"孙", "Sun"},
		{"马", "Ma"}, {"朱", "Zhu"}, {"胡", "Hu"}, {"郭", "Guo"}, {"何", "He"}, {"林", "Lin"},
		{"罗", "Luo"}, {"高", "Gao"}, {"郑", "Zheng"}, {"梁", "Liang"}, {"谢", "Xie"}, {"宋", "Song"},
		{"唐", "Tang"}, {"邓", "Deng"}, {"冯", "Feng"}, {"韩", "Han"}, {"曾", "Zeng"}, {"彭", "Peng"},
		{"蔡", "Cai"}, {"潘", "Pan"}, {"叶", "Ye"}, {"钟", "Zhong"}, {"卢", "Lu"}, {"廖", "Liao"},
		{"赖", "Lai"}, {"邱", "Qiu"}, {"温", "Wen"}, {"张", "Zhang"}, {"陈", "Chen"}, {"黄", "Huang"},
	}
	givenChars = []string{
		"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
		"超", "华", "平", "刚", "文", "海", "嘉", "俊", "浩", "宇", "婷", "欣", "怡", "晓", "振", "东",
		"锦", "荣", "辉", "贤", "坤", "雄", "贞", "秀", "英", "建", "国", "志", "玉", "兰", "桂", "德",
	}
)

// Businesses.
var (
	shopWords = []zhen{
		{"鸿福", "Hongfu"}, {"好运", "Haoyun"}, {"佳佳", "Jiajia"}, {"顺发", "Shunfa"}, {"美美", "Meimei"},
		{"金利", "Jinli"}, {"万家", "Wanjia"}, {"新天地", "Xintiandi"}, {"老街", "Laojie"}, {"东门", "Dongmen"},
		{"湖贝", "Hubei"}, {"旺角", "Wangjiao"}, {"百佳", "Baijia"}, {"乐购", "Legou"}, {"福满", "Fuman"},
		{"兴隆", "Xinglong"}, {"汇丰", "Huifeng"}, {"家乐", "Jiale"}, {"潮汕", "Chaoshan"}, {"客家", "Hakka"},
		{"湘味", "Xiangwei"}, {"蜀香", "Shuxiang"}, {"金牌", "Jinpai"}, {"日日鲜", "Ririxian"}, {"小城", "Xiaocheng"},
	}
	categories      = []string{"food", "retail", "grocery", "service", "repair", "pharmacy", "hotel", "entertainment", "other"}
	categoryWeights = []float64{30, 18, 14, 14, 6, 4, 4, 4, 6}
	shopNouns       = [][]zhen{
		{{"肠粉店", "Rice Roll Shop"}, {"烧腊店", "Roast Meat Shop"}, {"粥铺", "Congee Shop"}, {"奶茶店", "Milk Tea"},
			{"麻辣烫", "Malatang"}, {"螺蛳粉", "Snail Noodles"}, {"猪脚饭", "Pork Knuckle Rice"}, {"牛肉火锅", "Beef Hotpot"},
			{"拉面馆", "Noodle House"}, {"小吃店", "Snack Bar"}, {"茶餐厅", "Cha Chaan Teng"}, {"湘菜馆", "Hunan Restaurant"},
			{"烧烤", "Barbecue"}, {"早餐店", "Breakfast Shop"}, {"煲仔饭", "Claypot Rice"}},
		{{"服装店", "Clothing"}, {"鞋店", "Shoe Shop"}, {"手机店", "Mobile Phones"}, {"眼镜店", "Opticians"},
			{"珠宝行", "Jewellery"}, {"文具店", "Stationery"}, {"五金店", "Hardware"}, {"母婴店", "Baby Shop"}},
		{{"便利店", "Convenience Store"}, {"超市", "Supermarket"}, {"水果店", "Fruit Shop"}, {"粮油店", "Grain and Oil"},
			{"菜店", "Greengrocer"}, {"冻品店", "Frozen Food"}},
		{{"理发店", "Hair Salon"}, {"洗衣店", "Laundry"}, {"快递驿站", "Parcel Station"}, {"地产中介", "Estate Agency"},
			{"打印店", "Print Shop"}, {"美甲店", "Nail Salon"}, {"家政服务", "Housekeeping"}},
		{{"手机维修", "Phone Repair"}, {"电动车维修", "E-bike Repair"}, {"家电维修", "Appliance Repair"}, {"修鞋配钥匙", "Shoe and Key Repair"}},
		{{"大药房", "Pharmacy"}, {"药店", "Drugstore"}},
		{{"商务酒店", "Business Hotel"}, {"公寓", "Apartments"}, {"旅馆", "Inn"}, {"民宿", "Guesthouse"}},
		{{"棋牌室", "Mahjong Room"}, {"网吧", "Internet Cafe"}, {"KTV", "KTV"}, {"台球室", "Billiards"}},
		{{"彩票站", "Lottery"}, {"诊所", "Clinic"}, {"烟酒店", "Tobacco and Liquor"}, {"花店", "Florist"}},
	}
	industries = []string{"物流", "电子", "珠宝首饰", "餐饮管理", "服装", "物业服务", "建筑劳务", "家政服务", "快递", "保安服务"}
	riskFlags  = []string{"ebike_charging", "gas_cylinder", "wire_clutter", "narrow_escape", "rental_dense", "old_structure", "illegal_addition"}
)

// cn writes n (0 ≤ n < 10000) in Chinese numerals, as used in lane and
// building names ("三巷", "十二栋").
func cn(n int) string {
	d := [...]string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	switch {
	case n < 0 || n >= 10000:
		return strconv.Itoa(n)
	case n < 10:
		return d[n]
	case n < 20:
		if n == 10 {
			return "十"
		}
		return "十" + d[n%10]
	case n < 100:
		s := d[n/10] + "十"
		if n%10 != 0 {
			s += d[n%10]
		}
		return s
	case n < 1000:
		s, r := d[n/100]+"百", n%100
		switch {
		case r == 0:
			return s
		case r < 10:
			return s + "零" + d[r]
		case r < 20:
			return s + "一" + cn(r)
		}
		return s + cn(r)
	}
	s, r := d[n/1000]+"千", n%1000
	switch {
	case r == 0:
		return s
	case r < 100:
		return s + "零" + cn(r)
	}
	return s + cn(r)
}

// person returns a Chinese personal name.
func (g *gen) person() string {
	s := pick(g, surnames).zh + pick(g, givenChars)
	if g.r.IntN(3) > 0 {
		s += pick(g, givenChars)
	}
	return s
}

// phone returns an obviously fake but well-formed mobile number.
func (g *gen) phone() string { return fmt.Sprintf("1380013%04d", g.r.IntN(10000)) }

// licence returns an 18-character unified social credit code registered in
// Luohu (440303): 92 for an individual business, 91 for a company.
func (g *gen) licence() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := []byte("92440303MA5")
	if g.r.IntN(5) == 0 {
		b[1] = '1'
	}
	for range 7 {
		b = append(b, alphabet[g.r.IntN(len(alphabet))])
	}
	return string(b)
}

// company returns the name of a (fictional) Luohu company.
func (g *gen) company() string {
	return "深圳市" + pick(g, estateBases).zh + pick(g, industries) + "有限公司"
}

// shopName returns a shop's category and its Chinese and English names.
func (g *gen) shopName() (cat string, name zhen) {
	ci := g.weighted(categoryWeights)
	noun := pick(g, shopNouns[ci])
	var pre zhen
	if g.r.IntN(5) < 2 {
		s := pick(g, surnames)
		pre = zhen{s.zh + "记", s.en + "'s"}
	} else {
		pre = pick(g, shopWords)
	}
	return categories[ci], zhen{pre.zh + noun.zh, pre.en + " " + noun.en}
}
