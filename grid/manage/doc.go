// Package manage computes the management grid's analyses (网格化管理) from
// feature sets: per-cell aggregates of H3 cells (buildings, households,
// shops, sensors, open alerts, camera coverage share) with a pyramid of
// coarser parents for low zooms, exact roll-ups to compounds, communities
// and the subdistrict, the responsible grid worker of each cell (stored
// assignments, else the nearest grid worker), and the red / yellow / green
// placards (红黄绿三级挂牌) of compounds with manual overrides recorded
// with who, when and why. It lives beside package grid, which layers
// imports, because it works on layers.Feature values. See README.md.
package manage
