-- sweep.lua: steps the transmit rate of one pktgen port over a list of rates, replaying the pcap
-- loaded on it, holding each step for a fixed time with a pause between steps, and prints one
-- row per step: the rate asked, what was sent (packets per second, Gbit/s on the wire) and the
-- wall-clock seconds the step started and ended, for matching against `tstat-dpdk status`
-- snapshots taken on the appliance (RUNBOOK.md, "Sweep").
--
-- For pktgen-dpdk 23.03 (the Lua API of app/lpktgenlib.c). Headless run:
--
--   sudo env SWEEP_RATES=10:100:10 SWEEP_HOLD_S=20 \
--     ./builddir/app/pktgen -l 0-2 -n 4 -m 2048 --file-prefix=pktgen -a 0000:03:00.0 -- \
--     -P -m "[1:2].0" -s 0:/data/trace.pcap -f perf/pktgen/sweep.lua </dev/null
--
-- Settings: the defaults below, overridden by the environment (SWEEP_PORT, SWEEP_RATES,
-- SWEEP_HOLD_S, SWEEP_GAP_S, SWEEP_QUIT). SWEEP_RATES is a comma-separated list of percentages
-- of the link speed ("5,10,12.5,15") or FROM:TO:STEP ("10:100:10").
--
-- Each step also prints a machine-readable line:
--   SWEEP step=1 rate=10 start=<epoch> end=<epoch> opackets=N obytes=N oerrors=N mpps=X gbps=X
--
-- Not yet run on hardware (the development machines have no DPDK NIC): see RUNBOOK.md.

local PORT = "0"                             -- pktgen port number
local RATES = "10,20,30,40,50,60,70,80,90,100" -- percent of the link speed (40G: 10 = 4 Gbit/s)
local HOLD_S = 10                            -- seconds each step sends
local GAP_S = 5                              -- seconds of silence after each step (the appliance drains)
local QUIT = true                            -- quit pktgen at the end (headless runs)

local getenv = (os and os.getenv) or function() return nil end

local function setting(name, default)
  local v = getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function fail(msg)
  print("sweep: " .. msg)
  if QUIT then pktgen.quit() end
  error(msg)
end

PORT = tostring(setting("SWEEP_PORT", PORT))
RATES = tostring(setting("SWEEP_RATES", RATES))
HOLD_S = tonumber(setting("SWEEP_HOLD_S", HOLD_S))
GAP_S = tonumber(setting("SWEEP_GAP_S", GAP_S))
QUIT = tostring(setting("SWEEP_QUIT", QUIT and "1" or "0")) ~= "0"

local pid = tonumber(PORT)
if pid == nil or pid < 0 or math.floor(pid) ~= pid then fail("SWEEP_PORT must be a port number, not " .. PORT) end
if HOLD_S == nil or HOLD_S < 1 then fail("SWEEP_HOLD_S must be at least 1") end
if GAP_S == nil or GAP_S < 0 then fail("SWEEP_GAP_S must be 0 or more") end
pid = math.floor(pid)
HOLD_S = math.floor(HOLD_S)
GAP_S = math.floor(GAP_S)

-- "a,b,c" or "from:to:step" -> list of rates, each in (0, 100].
local function parse_rates(spec)
  local list = {}
  local from, to, step = string.match(spec, "^%s*([%d.]+)%s*:%s*([%d.]+)%s*:%s*([%d.]+)%s*$")
  if from then
    from, to, step = tonumber(from), tonumber(to), tonumber(step)
    if not (from and to and step) or step <= 0 then fail("bad SWEEP_RATES range '" .. spec .. "'") end
    -- Count the steps instead of adding step repeatedly, so that 10:100:10 ends at exactly 100.
    for i = 0, math.floor((to - from) / step + 1e-9) do list[#list + 1] = from + i * step end
  else
    for tok in string.gmatch(spec, "[^,%s]+") do
      local r = tonumber(tok)
      if r == nil then fail("bad rate '" .. tok .. "' in SWEEP_RATES") end
      list[#list + 1] = r
    end
  end
  if #list == 0 then fail("SWEEP_RATES is empty") end
  for _, r in ipairs(list) do
    if r <= 0 or r > 100 then fail(string.format("rate %g out of (0, 100] in SWEEP_RATES", r)) end
  end
  return list
end

local rates = parse_rates(RATES)

local function counters() return pktgen.portStats(PORT, "port")[pid] end

pktgen.screen("off")
local link = tostring(pktgen.linkState(PORT)[pid] or "?")
local link_mbps = tonumber(string.match(link, "(%d+)"))
print(string.format("sweep: port %s, link %s, %d steps of %d s, %d s apart", PORT, link, #rates, HOLD_S, GAP_S))
if string.find(link, "UP") == nil then
  print("sweep: warning: the link does not look up; the counters below will say what left")
end

pktgen.pcap(PORT, "on")
pktgen.set(PORT, "count", 0)

print(string.format("%4s %7s %11s %11s %14s %9s %10s %7s %8s",
  "step", "rate%", "start", "end", "packets", "Mpps", "Gbit/s", "line%", "oerrors"))
for i, rate in ipairs(rates) do
  pktgen.set(PORT, "rate", rate)
  local before = counters()
  local t_start = os.time()
  pktgen.start(PORT)
  pktgen.delay(HOLD_S * 1000)
  pktgen.stop(PORT)
  local t_end = os.time()
  pktgen.delay(500)               -- the last bursts leave; the counters settle
  local after = counters()
  local pkts = after.opackets - before.opackets
  local bytes = after.obytes - before.obytes
  local errs = after.oerrors - before.oerrors
  local mpps = pkts / HOLD_S / 1e6
  -- On the wire: + preamble/SFD (8), inter-frame gap (12) and FCS (4) per frame.
  local gbps = (bytes + 24 * pkts) * 8 / HOLD_S / 1e9
  local line = (link_mbps and link_mbps > 0) and string.format("%.1f", gbps * 1e5 / link_mbps) or "-"
  print(string.format("%4d %7g %11d %11d %14d %9.3f %10.3f %7s %8d",
    i, rate, t_start, t_end, pkts, mpps, gbps, line, errs))
  print(string.format("SWEEP step=%d rate=%g start=%d end=%d opackets=%d obytes=%d oerrors=%d mpps=%.3f gbps=%.3f",
    i, rate, t_start, t_end, pkts, bytes, errs, mpps, gbps))
  local rest = GAP_S * 1000 - 500
  if rest > 0 and i < #rates then pktgen.delay(rest) end
end
print("sweep: done")

if QUIT then pktgen.quit() end
