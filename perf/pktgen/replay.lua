-- replay.lua: replays the pcap loaded on one pktgen port at a fixed rate for a fixed time, prints
-- the transmit rate every second, then the port's transmit counters, and quits.
--
-- For pktgen-dpdk 23.03 (the Lua API of app/lpktgenlib.c: pktgen.set, pcap, start, stop, delay,
-- portStats, linkState, screen, quit). Headless run, pcap loaded with -s PORT:FILE:
--
--   sudo env REPLAY_RATE=25 REPLAY_SECONDS=60 \
--     ./builddir/app/pktgen -l 0-2 -n 4 -m 2048 --file-prefix=pktgen -a 0000:03:00.0 -- \
--     -P -m "[1:2].0" -s 0:/data/trace.pcap -f perf/pktgen/replay.lua </dev/null
--
-- Settings: the defaults below, overridden by the environment (REPLAY_PORT, REPLAY_RATE,
-- REPLAY_SECONDS, REPLAY_QUIT). RATE is a percentage of the link speed; pktgen turns it into
-- packets per second using the mean frame size of the pcap. The packets are sent back to back
-- at that rate, looping over the pcap; its timestamps are not followed.
--
-- The last line is machine-readable:
--   REPLAY port=0 rate=25 seconds=60 start=<epoch> end=<epoch> opackets=N obytes=N oerrors=N mpps=X
-- where start/end are the wall-clock seconds at which sending started and stopped, for matching
-- against `tstat-dpdk status` snapshots taken on the appliance.
--
-- Not yet run on hardware (the development machines have no DPDK NIC): see RUNBOOK.md.

local PORT = "0"      -- pktgen port number (ports are numbered in the order of -a)
local RATE = 10       -- percent of the link speed, 0 < RATE <= 100 (fractions allowed)
local SECONDS = 30    -- how long to send, whole seconds
local QUIT = true     -- quit pktgen at the end (headless runs)

local getenv = (os and os.getenv) or function() return nil end

local function setting(name, default)
  local v = getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function fail(msg)
  print("replay: " .. msg)
  if QUIT then pktgen.quit() end
  error(msg)
end

PORT = tostring(setting("REPLAY_PORT", PORT))
RATE = tonumber(setting("REPLAY_RATE", RATE))
SECONDS = tonumber(setting("REPLAY_SECONDS", SECONDS))
QUIT = tostring(setting("REPLAY_QUIT", QUIT and "1" or "0")) ~= "0"

local pid = tonumber(PORT)
if pid == nil or pid < 0 or math.floor(pid) ~= pid then fail("REPLAY_PORT must be a port number, not " .. PORT) end
if RATE == nil or RATE <= 0 or RATE > 100 then fail("REPLAY_RATE must be in (0, 100]") end
if SECONDS == nil or SECONDS < 1 then fail("REPLAY_SECONDS must be at least 1") end
pid = math.floor(pid)
SECONDS = math.floor(SECONDS)

local function counters() return pktgen.portStats(PORT, "port")[pid] end
local function rates() return pktgen.portStats(PORT, "rate")[pid] end

pktgen.screen("off")
local link = pktgen.linkState(PORT)[pid] or "?"
local link_mbps = tonumber(string.match(tostring(link), "(%d+)"))
print(string.format("replay: port %s, link %s, %g%% of the link for %d s", PORT, tostring(link), RATE, SECONDS))
if string.find(tostring(link), "UP") == nil then
  print("replay: warning: the link does not look up; the counters below will say what left")
end

pktgen.pcap(PORT, "on")           -- send the pcap loaded with -s PORT:FILE
pktgen.set(PORT, "count", 0)      -- until stopped
pktgen.set(PORT, "rate", RATE)

local before = counters()
local t_start = os.time()
pktgen.start(PORT)
for s = 1, SECONDS do
  pktgen.delay(1000)
  local r = rates()
  print(string.format("replay: t=%4d s  tx %12d pps  %8d Mbit/s", s, r.pkts_tx, r.mbits_tx))
end
pktgen.stop(PORT)
local t_end = os.time()
pktgen.delay(1000)                -- let the last bursts leave and the counters settle
local after = counters()

local pkts = after.opackets - before.opackets
local bytes = after.obytes - before.obytes
local errs = after.oerrors - before.oerrors
local mpps = pkts / SECONDS / 1e6
-- On the wire every frame also takes preamble + SFD (8), inter-frame gap (12) and FCS (4).
local line_gbps = (bytes + 24 * pkts) * 8 / SECONDS / 1e9
print(string.format("replay: sent %d packets, %d bytes in %d s: %.3f Mpps, %.3f Gbit/s on the wire%s, %d tx errors",
  pkts, bytes, SECONDS, mpps, line_gbps,
  link_mbps and link_mbps > 0 and string.format(" (%.1f%% of %d Mbit/s)", line_gbps * 1e5 / link_mbps, link_mbps) or "",
  errs))
print(string.format("REPLAY port=%s rate=%g seconds=%d start=%d end=%d opackets=%d obytes=%d oerrors=%d mpps=%.3f",
  PORT, RATE, SECONDS, t_start, t_end, pkts, bytes, errs, mpps))

if QUIT then pktgen.quit() end
