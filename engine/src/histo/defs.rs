//! The histograms Tstat 3.3 knows: name, range, bin size and description, as `tstat -H ?`
//! prints them (the embedded `definitions.tsv`), and a constant per histogram for the code that
//! feeds them.
//!
//! The index of a histogram is its position in that list, which is also the order Tstat keeps
//! them in and writes them out in. Two definitions share the name `tcp_net_dup_out` (Tstat's
//! "local" duplicate histogram is misnamed): [`id::TCP_NET_DUP_LOC`] is the first of them.

use std::sync::OnceLock;

/// The output of `tstat -H ?` (Tstat 3.3.0): `name min bin_size max description`, tab-separated.
const TSV: &str = include_str!("definitions.tsv");

/// Number of histograms.
pub const COUNT: usize = 349;

/// One histogram definition. Values `v` with `min <= v < max` fall into bins of `bin_size`;
/// two more bins hold the values below `min` and the values at or above `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    /// File name of the histogram in the output directories.
    pub name: &'static str,
    /// Lower edge of the first regular bin.
    pub min: i64,
    /// Width of a bin.
    pub bin_size: i64,
    /// Upper edge (excluded) of the last regular bin.
    pub max: i64,
    /// The description line (`#<description>`), trailing spaces included.
    pub descr: &'static str,
}

impl Def {
    /// Number of regular bins (Tstat's `num_col`).
    pub fn columns(&self) -> u32 {
        ((self.max - self.min) / self.bin_size) as u32
    }

    /// Number of stored bins: the regular ones plus "below min" (bin 0) and "at or above max"
    /// (bin `columns() + 1`).
    pub fn bins(&self) -> usize {
        self.columns() as usize + 2
    }

    /// The label Tstat prints for `bin`: `min + (bin − 1) · bin_size` (so `min − bin_size` for
    /// the values below `min` and `max` for the values at or above it).
    pub fn label(&self, bin: u32) -> i64 {
        self.min + (i64::from(bin) - 1) * self.bin_size
    }

    /// The bin Tstat's `add_histo` puts a finite value in: `(int) v + bin_size − min` divided
    /// by `bin_size`, C integer arithmetic, for values inside the range.
    pub fn bin_of(&self, v: f64) -> u32 {
        if v < self.min as f64 {
            0
        } else if v >= self.max as f64 {
            self.columns() + 1
        } else {
            ((i64::from(v as i32) + self.bin_size - self.min) / self.bin_size) as u32
        }
    }
}

/// Every definition, in Tstat's order (index = histogram id).
pub fn all() -> &'static [Def] {
    static DEFS: OnceLock<Vec<Def>> = OnceLock::new();
    DEFS.get_or_init(|| parse(TSV))
}

/// The id of the first histogram called `name`, as Tstat's `find_histo` looks it up.
pub fn find(name: &str) -> Option<u16> {
    all().iter().position(|d| d.name == name).map(|i| i as u16)
}

fn parse(tsv: &'static str) -> Vec<Def> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(5, '\t');
            let mut field = || f.next().expect("definitions.tsv has five columns");
            let name = field();
            let num = |s: &str| s.parse::<i64>().expect("definitions.tsv numbers");
            let (min, bin_size, max) = (num(field()), num(field()), num(field()));
            Def {
                name,
                min,
                bin_size,
                max,
                descr: field(),
            }
        })
        .collect()
}

/// The id of every histogram (its index in [`all`]), named after it.
#[allow(missing_docs)]
pub mod id {
    /// `profile_trash`.
    pub const PROFILE_TRASH: u16 = 0;
    /// `profile_tcpdata`.
    pub const PROFILE_TCPDATA: u16 = 1;
    /// `profile_flows`.
    pub const PROFILE_FLOWS: u16 = 2;
    /// `profile_cpu`.
    pub const PROFILE_CPU: u16 = 3;
    /// `chat_flow_num`.
    pub const CHAT_FLOW_NUM: u16 = 4;
    /// `L3_bitrate_loc`.
    pub const L3_BITRATE_LOC: u16 = 5;
    /// `L3_bitrate_out`.
    pub const L3_BITRATE_OUT: u16 = 6;
    /// `L3_bitrate_in`.
    pub const L3_BITRATE_IN: u16 = 7;
    /// `L3_protocol_loc`.
    pub const L3_PROTOCOL_LOC: u16 = 8;
    /// `L3_protocol_in`.
    pub const L3_PROTOCOL_IN: u16 = 9;
    /// `L3_protocol_out`.
    pub const L3_PROTOCOL_OUT: u16 = 10;
    /// `tls_bitrate_loc`.
    pub const TLS_BITRATE_LOC: u16 = 11;
    /// `tls_bitrate_out`.
    pub const TLS_BITRATE_OUT: u16 = 12;
    /// `tls_bitrate_in`.
    pub const TLS_BITRATE_IN: u16 = 13;
    /// `L7_TLS_num_loc`.
    pub const L7_TLS_NUM_LOC: u16 = 14;
    /// `L7_TLS_num_in`.
    pub const L7_TLS_NUM_IN: u16 = 15;
    /// `L7_TLS_num_out`.
    pub const L7_TLS_NUM_OUT: u16 = 16;
    /// `web_bitrate_loc`.
    pub const WEB_BITRATE_LOC: u16 = 17;
    /// `web_bitrate_out`.
    pub const WEB_BITRATE_OUT: u16 = 18;
    /// `web_bitrate_in`.
    pub const WEB_BITRATE_IN: u16 = 19;
    /// `L7_WEB_num_loc`.
    pub const L7_WEB_NUM_LOC: u16 = 20;
    /// `L7_WEB_num_in`.
    pub const L7_WEB_NUM_IN: u16 = 21;
    /// `L7_WEB_num_out`.
    pub const L7_WEB_NUM_OUT: u16 = 22;
    /// `video_rate_nc_out`.
    pub const VIDEO_RATE_NC_OUT: u16 = 23;
    /// `video_rate_nc_in`.
    pub const VIDEO_RATE_NC_IN: u16 = 24;
    /// `video_rate_c_out`.
    pub const VIDEO_RATE_C_OUT: u16 = 25;
    /// `video_rate_c_in`.
    pub const VIDEO_RATE_C_IN: u16 = 26;
    /// `video_rate_loc`.
    pub const VIDEO_RATE_LOC: u16 = 27;
    /// `video_rate_out`.
    pub const VIDEO_RATE_OUT: u16 = 28;
    /// `video_rate_in`.
    pub const VIDEO_RATE_IN: u16 = 29;
    /// `L7_VIDEO_num_nc_in`.
    pub const L7_VIDEO_NUM_NC_IN: u16 = 30;
    /// `L7_VIDEO_num_nc_out`.
    pub const L7_VIDEO_NUM_NC_OUT: u16 = 31;
    /// `L7_VIDEO_num_c_in`.
    pub const L7_VIDEO_NUM_C_IN: u16 = 32;
    /// `L7_VIDEO_num_c_out`.
    pub const L7_VIDEO_NUM_C_OUT: u16 = 33;
    /// `L7_VIDEO_num_loc`.
    pub const L7_VIDEO_NUM_LOC: u16 = 34;
    /// `L7_VIDEO_num_in`.
    pub const L7_VIDEO_NUM_IN: u16 = 35;
    /// `L7_VIDEO_num_out`.
    pub const L7_VIDEO_NUM_OUT: u16 = 36;
    /// `http_bitrate_nc_out`.
    pub const HTTP_BITRATE_NC_OUT: u16 = 37;
    /// `http_bitrate_nc_in`.
    pub const HTTP_BITRATE_NC_IN: u16 = 38;
    /// `http_bitrate_c_out`.
    pub const HTTP_BITRATE_C_OUT: u16 = 39;
    /// `http_bitrate_c_in`.
    pub const HTTP_BITRATE_C_IN: u16 = 40;
    /// `http_bitrate_loc`.
    pub const HTTP_BITRATE_LOC: u16 = 41;
    /// `http_bitrate_out`.
    pub const HTTP_BITRATE_OUT: u16 = 42;
    /// `http_bitrate_in`.
    pub const HTTP_BITRATE_IN: u16 = 43;
    /// `L7_HTTP_num_nc_in`.
    pub const L7_HTTP_NUM_NC_IN: u16 = 44;
    /// `L7_HTTP_num_nc_out`.
    pub const L7_HTTP_NUM_NC_OUT: u16 = 45;
    /// `L7_HTTP_num_c_in`.
    pub const L7_HTTP_NUM_C_IN: u16 = 46;
    /// `L7_HTTP_num_c_out`.
    pub const L7_HTTP_NUM_C_OUT: u16 = 47;
    /// `L7_HTTP_num_loc`.
    pub const L7_HTTP_NUM_LOC: u16 = 48;
    /// `L7_HTTP_num_in`.
    pub const L7_HTTP_NUM_IN: u16 = 49;
    /// `L7_HTTP_num_out`.
    pub const L7_HTTP_NUM_OUT: u16 = 50;
    /// `udp_bitrate_nc_out`.
    pub const UDP_BITRATE_NC_OUT: u16 = 51;
    /// `udp_bitrate_nc_in`.
    pub const UDP_BITRATE_NC_IN: u16 = 52;
    /// `udp_bitrate_c_out`.
    pub const UDP_BITRATE_C_OUT: u16 = 53;
    /// `udp_bitrate_c_in`.
    pub const UDP_BITRATE_C_IN: u16 = 54;
    /// `udp_bitrate_loc`.
    pub const UDP_BITRATE_LOC: u16 = 55;
    /// `udp_bitrate_out`.
    pub const UDP_BITRATE_OUT: u16 = 56;
    /// `udp_bitrate_in`.
    pub const UDP_BITRATE_IN: u16 = 57;
    /// `L7_UDP_num_nc_in`.
    pub const L7_UDP_NUM_NC_IN: u16 = 58;
    /// `L7_UDP_num_nc_out`.
    pub const L7_UDP_NUM_NC_OUT: u16 = 59;
    /// `L7_UDP_num_c_in`.
    pub const L7_UDP_NUM_C_IN: u16 = 60;
    /// `L7_UDP_num_c_out`.
    pub const L7_UDP_NUM_C_OUT: u16 = 61;
    /// `L7_UDP_num_loc`.
    pub const L7_UDP_NUM_LOC: u16 = 62;
    /// `L7_UDP_num_in`.
    pub const L7_UDP_NUM_IN: u16 = 63;
    /// `L7_UDP_num_out`.
    pub const L7_UDP_NUM_OUT: u16 = 64;
    /// `L7_TCP_num_nc_in`.
    pub const L7_TCP_NUM_NC_IN: u16 = 65;
    /// `L7_TCP_num_nc_out`.
    pub const L7_TCP_NUM_NC_OUT: u16 = 66;
    /// `L7_TCP_num_c_in`.
    pub const L7_TCP_NUM_C_IN: u16 = 67;
    /// `L7_TCP_num_c_out`.
    pub const L7_TCP_NUM_C_OUT: u16 = 68;
    /// `L7_TCP_num_loc`.
    pub const L7_TCP_NUM_LOC: u16 = 69;
    /// `L7_TCP_num_in`.
    pub const L7_TCP_NUM_IN: u16 = 70;
    /// `L7_TCP_num_out`.
    pub const L7_TCP_NUM_OUT: u16 = 71;
    /// `L4_flow_number`.
    pub const L4_FLOW_NUMBER: u16 = 72;
    /// `rtcp_bt_out`.
    pub const RTCP_BT_OUT: u16 = 73;
    /// `rtcp_bt_loc`.
    pub const RTCP_BT_LOC: u16 = 74;
    /// `rtcp_bt_in`.
    pub const RTCP_BT_IN: u16 = 75;
    /// `rtcp_mm_bt_out`.
    pub const RTCP_MM_BT_OUT: u16 = 76;
    /// `rtcp_mm_bt_loc`.
    pub const RTCP_MM_BT_LOC: u16 = 77;
    /// `rtcp_mm_bt_in`.
    pub const RTCP_MM_BT_IN: u16 = 78;
    /// `rtcp_mm_cl_b_out`.
    pub const RTCP_MM_CL_B_OUT: u16 = 79;
    /// `rtcp_mm_cl_b_loc`.
    pub const RTCP_MM_CL_B_LOC: u16 = 80;
    /// `rtcp_mm_cl_b_in`.
    pub const RTCP_MM_CL_B_IN: u16 = 81;
    /// `rtcp_mm_cl_p_out`.
    pub const RTCP_MM_CL_P_OUT: u16 = 82;
    /// `rtcp_mm_cl_p_loc`.
    pub const RTCP_MM_CL_P_LOC: u16 = 83;
    /// `rtcp_mm_cl_p_in`.
    pub const RTCP_MM_CL_P_IN: u16 = 84;
    /// `rtcp_t_lost_out`.
    pub const RTCP_T_LOST_OUT: u16 = 85;
    /// `rtcp_t_lost_loc`.
    pub const RTCP_T_LOST_LOC: u16 = 86;
    /// `rtcp_t_lost_in`.
    pub const RTCP_T_LOST_IN: u16 = 87;
    /// `rtcp_f_lost_out`.
    pub const RTCP_F_LOST_OUT: u16 = 88;
    /// `rtcp_f_lost_loc`.
    pub const RTCP_F_LOST_LOC: u16 = 89;
    /// `rtcp_f_lost_in`.
    pub const RTCP_F_LOST_IN: u16 = 90;
    /// `rtcp_dup_out`.
    pub const RTCP_DUP_OUT: u16 = 91;
    /// `rtcp_dup_loc`.
    pub const RTCP_DUP_LOC: u16 = 92;
    /// `rtcp_dup_in`.
    pub const RTCP_DUP_IN: u16 = 93;
    /// `rtcp_lost_out`.
    pub const RTCP_LOST_OUT: u16 = 94;
    /// `rtcp_lost_loc`.
    pub const RTCP_LOST_LOC: u16 = 95;
    /// `rtcp_lost_in`.
    pub const RTCP_LOST_IN: u16 = 96;
    /// `rtcp_jitter_out`.
    pub const RTCP_JITTER_OUT: u16 = 97;
    /// `rtcp_jitter_loc`.
    pub const RTCP_JITTER_LOC: u16 = 98;
    /// `rtcp_jitter_in`.
    pub const RTCP_JITTER_IN: u16 = 99;
    /// `rtcp_rtt_out`.
    pub const RTCP_RTT_OUT: u16 = 100;
    /// `rtcp_rtt_loc`.
    pub const RTCP_RTT_LOC: u16 = 101;
    /// `rtcp_rtt_in`.
    pub const RTCP_RTT_IN: u16 = 102;
    /// `rtcp_avg_inter_loc`.
    pub const RTCP_AVG_INTER_LOC: u16 = 103;
    /// `rtcp_avg_inter_out`.
    pub const RTCP_AVG_INTER_OUT: u16 = 104;
    /// `rtcp_avg_inter_in`.
    pub const RTCP_AVG_INTER_IN: u16 = 105;
    /// `rtcp_cl_b_loc`.
    pub const RTCP_CL_B_LOC: u16 = 106;
    /// `rtcp_cl_b_in`.
    pub const RTCP_CL_B_IN: u16 = 107;
    /// `rtcp_cl_b_out`.
    pub const RTCP_CL_B_OUT: u16 = 108;
    /// `rtcp_cl_p_loc`.
    pub const RTCP_CL_P_LOC: u16 = 109;
    /// `rtcp_cl_p_in`.
    pub const RTCP_CL_P_IN: u16 = 110;
    /// `rtcp_cl_p_out`.
    pub const RTCP_CL_P_OUT: u16 = 111;
    /// `mm_oos_p_loc`.
    pub const MM_OOS_P_LOC: u16 = 112;
    /// `mm_oos_p_out`.
    pub const MM_OOS_P_OUT: u16 = 113;
    /// `mm_oos_p_in`.
    pub const MM_OOS_P_IN: u16 = 114;
    /// `mm_reord_delay_loc`.
    pub const MM_REORD_DELAY_LOC: u16 = 115;
    /// `mm_reord_delay_out`.
    pub const MM_REORD_DELAY_OUT: u16 = 116;
    /// `mm_reord_delay_in`.
    pub const MM_REORD_DELAY_IN: u16 = 117;
    /// `mm_reord_p_n_loc`.
    pub const MM_REORD_P_N_LOC: u16 = 118;
    /// `mm_reord_p_n_out`.
    pub const MM_REORD_P_N_OUT: u16 = 119;
    /// `mm_reord_p_n_in`.
    pub const MM_REORD_P_N_IN: u16 = 120;
    /// `mm_burst_loss_loc`.
    pub const MM_BURST_LOSS_LOC: u16 = 121;
    /// `mm_burst_loss_out`.
    pub const MM_BURST_LOSS_OUT: u16 = 122;
    /// `mm_burst_loss_in`.
    pub const MM_BURST_LOSS_IN: u16 = 123;
    /// `mm_p_late_loc`.
    pub const MM_P_LATE_LOC: u16 = 124;
    /// `mm_p_late_out`.
    pub const MM_P_LATE_OUT: u16 = 125;
    /// `mm_p_late_in`.
    pub const MM_P_LATE_IN: u16 = 126;
    /// `mm_p_lost_loc`.
    pub const MM_P_LOST_LOC: u16 = 127;
    /// `mm_p_lost_out`.
    pub const MM_P_LOST_OUT: u16 = 128;
    /// `mm_p_lost_in`.
    pub const MM_P_LOST_IN: u16 = 129;
    /// `mm_p_dup_loc`.
    pub const MM_P_DUP_LOC: u16 = 130;
    /// `mm_p_dup_out`.
    pub const MM_P_DUP_OUT: u16 = 131;
    /// `mm_p_dup_in`.
    pub const MM_P_DUP_IN: u16 = 132;
    /// `mm_p_oos_loc`.
    pub const MM_P_OOS_LOC: u16 = 133;
    /// `mm_p_oos_out`.
    pub const MM_P_OOS_OUT: u16 = 134;
    /// `mm_p_oos_in`.
    pub const MM_P_OOS_IN: u16 = 135;
    /// `mm_n_oos_loc`.
    pub const MM_N_OOS_LOC: u16 = 136;
    /// `mm_n_oos_out`.
    pub const MM_N_OOS_OUT: u16 = 137;
    /// `mm_n_oos_in`.
    pub const MM_N_OOS_IN: u16 = 138;
    /// `mm_avg_jitter_loc`.
    pub const MM_AVG_JITTER_LOC: u16 = 139;
    /// `mm_avg_jitter_out`.
    pub const MM_AVG_JITTER_OUT: u16 = 140;
    /// `mm_avg_jitter_in`.
    pub const MM_AVG_JITTER_IN: u16 = 141;
    /// `mm_avg_ipg_loc`.
    pub const MM_AVG_IPG_LOC: u16 = 142;
    /// `mm_avg_ipg_out`.
    pub const MM_AVG_IPG_OUT: u16 = 143;
    /// `mm_avg_ipg_in`.
    pub const MM_AVG_IPG_IN: u16 = 144;
    /// `mm_avg_bitrate_loc`.
    pub const MM_AVG_BITRATE_LOC: u16 = 145;
    /// `mm_avg_bitrate_in`.
    pub const MM_AVG_BITRATE_IN: u16 = 146;
    /// `mm_avg_bitrate_out`.
    pub const MM_AVG_BITRATE_OUT: u16 = 147;
    /// `mm_cl_b_s_loc`.
    pub const MM_CL_B_S_LOC: u16 = 148;
    /// `mm_cl_b_s_in`.
    pub const MM_CL_B_S_IN: u16 = 149;
    /// `mm_cl_b_s_out`.
    pub const MM_CL_B_S_OUT: u16 = 150;
    /// `mm_cl_p_s_loc`.
    pub const MM_CL_P_S_LOC: u16 = 151;
    /// `mm_cl_p_s_in`.
    pub const MM_CL_P_S_IN: u16 = 152;
    /// `mm_cl_p_s_out`.
    pub const MM_CL_P_S_OUT: u16 = 153;
    /// `mm_cl_b_loc`.
    pub const MM_CL_B_LOC: u16 = 154;
    /// `mm_cl_b_in`.
    pub const MM_CL_B_IN: u16 = 155;
    /// `mm_cl_b_out`.
    pub const MM_CL_B_OUT: u16 = 156;
    /// `mm_cl_p_loc`.
    pub const MM_CL_P_LOC: u16 = 157;
    /// `mm_cl_p_in`.
    pub const MM_CL_P_IN: u16 = 158;
    /// `mm_cl_p_out`.
    pub const MM_CL_P_OUT: u16 = 159;
    /// `mm_tot_time_s_loc`.
    pub const MM_TOT_TIME_S_LOC: u16 = 160;
    /// `mm_tot_time_s_out`.
    pub const MM_TOT_TIME_S_OUT: u16 = 161;
    /// `mm_tot_time_s_in`.
    pub const MM_TOT_TIME_S_IN: u16 = 162;
    /// `mm_tot_time_loc`.
    pub const MM_TOT_TIME_LOC: u16 = 163;
    /// `mm_tot_time_out`.
    pub const MM_TOT_TIME_OUT: u16 = 164;
    /// `mm_tot_time_in`.
    pub const MM_TOT_TIME_IN: u16 = 165;
    /// `mm_rtp_pt_loc`.
    pub const MM_RTP_PT_LOC: u16 = 166;
    /// `mm_rtp_pt_out`.
    pub const MM_RTP_PT_OUT: u16 = 167;
    /// `mm_rtp_pt_in`.
    pub const MM_RTP_PT_IN: u16 = 168;
    /// `mm_uni_multi_loc`.
    pub const MM_UNI_MULTI_LOC: u16 = 169;
    /// `mm_uni_multi_out`.
    pub const MM_UNI_MULTI_OUT: u16 = 170;
    /// `mm_uni_multi_in`.
    pub const MM_UNI_MULTI_IN: u16 = 171;
    /// `mm_type_loc`.
    pub const MM_TYPE_LOC: u16 = 172;
    /// `mm_type_out`.
    pub const MM_TYPE_OUT: u16 = 173;
    /// `mm_type_in`.
    pub const MM_TYPE_IN: u16 = 174;
    /// `udp_port_flow_dst`.
    pub const UDP_PORT_FLOW_DST: u16 = 175;
    /// `udp_port_dst_loc`.
    pub const UDP_PORT_DST_LOC: u16 = 176;
    /// `udp_port_dst_out`.
    pub const UDP_PORT_DST_OUT: u16 = 177;
    /// `udp_port_dst_in`.
    pub const UDP_PORT_DST_IN: u16 = 178;
    /// `udp_tot_time`.
    pub const UDP_TOT_TIME: u16 = 179;
    /// `udp_cl_b_l_loc`.
    pub const UDP_CL_B_L_LOC: u16 = 180;
    /// `udp_cl_b_l_in`.
    pub const UDP_CL_B_L_IN: u16 = 181;
    /// `udp_cl_b_l_out`.
    pub const UDP_CL_B_L_OUT: u16 = 182;
    /// `udp_cl_b_s_loc`.
    pub const UDP_CL_B_S_LOC: u16 = 183;
    /// `udp_cl_b_s_in`.
    pub const UDP_CL_B_S_IN: u16 = 184;
    /// `udp_cl_b_s_out`.
    pub const UDP_CL_B_S_OUT: u16 = 185;
    /// `udp_cl_p_loc`.
    pub const UDP_CL_P_LOC: u16 = 186;
    /// `udp_cl_p_in`.
    pub const UDP_CL_P_IN: u16 = 187;
    /// `udp_cl_p_out`.
    pub const UDP_CL_P_OUT: u16 = 188;
    /// `tcp_interrupted`.
    pub const TCP_INTERRUPTED: u16 = 189;
    /// `tcp_thru_lf_nc_s2c`.
    pub const TCP_THRU_LF_NC_S2C: u16 = 190;
    /// `tcp_thru_lf_nc_c2s`.
    pub const TCP_THRU_LF_NC_C2S: u16 = 191;
    /// `tcp_thru_lf_c_s2c`.
    pub const TCP_THRU_LF_C_S2C: u16 = 192;
    /// `tcp_thru_lf_c_c2s`.
    pub const TCP_THRU_LF_C_C2S: u16 = 193;
    /// `tcp_thru_lf_s2c`.
    pub const TCP_THRU_LF_S2C: u16 = 194;
    /// `tcp_thru_lf_c2s`.
    pub const TCP_THRU_LF_C2S: u16 = 195;
    /// `tcp_thru_s2c`.
    pub const TCP_THRU_S2C: u16 = 196;
    /// `tcp_thru_c2s`.
    pub const TCP_THRU_C2S: u16 = 197;
    /// `tcp_tot_time`.
    pub const TCP_TOT_TIME: u16 = 198;
    /// `tcp_unnrtx_FR_s2c`.
    pub const TCP_UNNRTX_FR_S2C: u16 = 199;
    /// `tcp_unnrtx_FR_c2s`.
    pub const TCP_UNNRTX_FR_C2S: u16 = 200;
    /// `tcp_unnrtx_FR_loc`.
    pub const TCP_UNNRTX_FR_LOC: u16 = 201;
    /// `tcp_unnrtx_FR_out`.
    pub const TCP_UNNRTX_FR_OUT: u16 = 202;
    /// `tcp_unnecessary_rtx_FR_in`.
    pub const TCP_UNNECESSARY_RTX_FR_IN: u16 = 203;
    /// `tcp_unnrtx_RTO_s2c`.
    pub const TCP_UNNRTX_RTO_S2C: u16 = 204;
    /// `tcp_unnrtx_RTO_c2s`.
    pub const TCP_UNNRTX_RTO_C2S: u16 = 205;
    /// `tcp_unnrtx_RTO_loc`.
    pub const TCP_UNNRTX_RTO_LOC: u16 = 206;
    /// `tcp_unnrtx_RTO_out`.
    pub const TCP_UNNRTX_RTO_OUT: u16 = 207;
    /// `tcp_unnecessary_rtx_RTO_in`.
    pub const TCP_UNNECESSARY_RTX_RTO_IN: u16 = 208;
    /// `tcp_flow_ctrl_s2c`.
    pub const TCP_FLOW_CTRL_S2C: u16 = 209;
    /// `tcp_flow_ctrl_c2s`.
    pub const TCP_FLOW_CTRL_C2S: u16 = 210;
    /// `tcp_flow_ctrl_loc`.
    pub const TCP_FLOW_CTRL_LOC: u16 = 211;
    /// `tcp_flow_ctrl_out`.
    pub const TCP_FLOW_CTRL_OUT: u16 = 212;
    /// `tcp_flow_control_in`.
    pub const TCP_FLOW_CONTROL_IN: u16 = 213;
    /// `tcp_unknown_s2c`.
    pub const TCP_UNKNOWN_S2C: u16 = 214;
    /// `tcp_unknown_c2s`.
    pub const TCP_UNKNOWN_C2S: u16 = 215;
    /// `tcp_unknown_loc`.
    pub const TCP_UNKNOWN_LOC: u16 = 216;
    /// `tcp_unknown_out`.
    pub const TCP_UNKNOWN_OUT: u16 = 217;
    /// `tcp_unknown_in`.
    pub const TCP_UNKNOWN_IN: u16 = 218;
    /// `tcp_net_dup_s2c`.
    pub const TCP_NET_DUP_S2C: u16 = 219;
    /// `tcp_net_dup_c2s`.
    pub const TCP_NET_DUP_C2S: u16 = 220;
    /// `tcp_net_dup_out` (Tstat names it `tcp_net_dup_out` too).
    pub const TCP_NET_DUP_LOC: u16 = 221;
    /// `tcp_net_dup_out`.
    pub const TCP_NET_DUP_OUT: u16 = 222;
    /// `tcp_net_dup_in`.
    pub const TCP_NET_DUP_IN: u16 = 223;
    /// `tcp_reordering_s2c`.
    pub const TCP_REORDERING_S2C: u16 = 224;
    /// `tcp_reordering_c2s`.
    pub const TCP_REORDERING_C2S: u16 = 225;
    /// `tcp_reordering_loc`.
    pub const TCP_REORDERING_LOC: u16 = 226;
    /// `tcp_reordering_out`.
    pub const TCP_REORDERING_OUT: u16 = 227;
    /// `tcp_reordering_in`.
    pub const TCP_REORDERING_IN: u16 = 228;
    /// `tcp_rtx_FR_s2c`.
    pub const TCP_RTX_FR_S2C: u16 = 229;
    /// `tcp_rtx_FR_c2s`.
    pub const TCP_RTX_FR_C2S: u16 = 230;
    /// `tcp_rtx_FR_loc`.
    pub const TCP_RTX_FR_LOC: u16 = 231;
    /// `tcp_rtx_FR_out`.
    pub const TCP_RTX_FR_OUT: u16 = 232;
    /// `tcp_rtx_FR_in`.
    pub const TCP_RTX_FR_IN: u16 = 233;
    /// `tcp_rtx_RTO_s2c`.
    pub const TCP_RTX_RTO_S2C: u16 = 234;
    /// `tcp_rtx_RTO_c2s`.
    pub const TCP_RTX_RTO_C2S: u16 = 235;
    /// `tcp_rtx_RTO_loc`.
    pub const TCP_RTX_RTO_LOC: u16 = 236;
    /// `tcp_rtx_RTO_out`.
    pub const TCP_RTX_RTO_OUT: u16 = 237;
    /// `tcp_rtx_RTO_in`.
    pub const TCP_RTX_RTO_IN: u16 = 238;
    /// `tcp_anomalies_s2c`.
    pub const TCP_ANOMALIES_S2C: u16 = 239;
    /// `tcp_anomalies_c2s`.
    pub const TCP_ANOMALIES_C2S: u16 = 240;
    /// `tcp_anomalies_loc`.
    pub const TCP_ANOMALIES_LOC: u16 = 241;
    /// `tcp_anomalies_out`.
    pub const TCP_ANOMALIES_OUT: u16 = 242;
    /// `tcp_anomalies_in`.
    pub const TCP_ANOMALIES_IN: u16 = 243;
    /// `tcp_rtt_cnt_s2c`.
    pub const TCP_RTT_CNT_S2C: u16 = 244;
    /// `tcp_rtt_cnt_c2s`.
    pub const TCP_RTT_CNT_C2S: u16 = 245;
    /// `tcp_rtt_cnt_loc`.
    pub const TCP_RTT_CNT_LOC: u16 = 246;
    /// `tcp_rtt_cnt_in`.
    pub const TCP_RTT_CNT_IN: u16 = 247;
    /// `tcp_rtt_cnt_out`.
    pub const TCP_RTT_CNT_OUT: u16 = 248;
    /// `tcp_rtt_stdev_s2c`.
    pub const TCP_RTT_STDEV_S2C: u16 = 249;
    /// `tcp_rtt_stdev_c2s`.
    pub const TCP_RTT_STDEV_C2S: u16 = 250;
    /// `tcp_rtt_stdev_loc`.
    pub const TCP_RTT_STDEV_LOC: u16 = 251;
    /// `tcp_rtt_stdev_in`.
    pub const TCP_RTT_STDEV_IN: u16 = 252;
    /// `tcp_rtt_stdev_out`.
    pub const TCP_RTT_STDEV_OUT: u16 = 253;
    /// `tcp_rtt_max_s2c`.
    pub const TCP_RTT_MAX_S2C: u16 = 254;
    /// `tcp_rtt_max_c2s`.
    pub const TCP_RTT_MAX_C2S: u16 = 255;
    /// `tcp_rtt_max_loc`.
    pub const TCP_RTT_MAX_LOC: u16 = 256;
    /// `tcp_rtt_max_in`.
    pub const TCP_RTT_MAX_IN: u16 = 257;
    /// `tcp_rtt_max_out`.
    pub const TCP_RTT_MAX_OUT: u16 = 258;
    /// `tcp_rtt_nc_avg_in`.
    pub const TCP_RTT_NC_AVG_IN: u16 = 259;
    /// `tcp_rtt_nc_avg_out`.
    pub const TCP_RTT_NC_AVG_OUT: u16 = 260;
    /// `tcp_rtt_c_avg_in`.
    pub const TCP_RTT_C_AVG_IN: u16 = 261;
    /// `tcp_rtt_c_avg_out`.
    pub const TCP_RTT_C_AVG_OUT: u16 = 262;
    /// `tcp_rtt_avg_s2c`.
    pub const TCP_RTT_AVG_S2C: u16 = 263;
    /// `tcp_rtt_avg_c2s`.
    pub const TCP_RTT_AVG_C2S: u16 = 264;
    /// `tcp_rtt_avg_loc`.
    pub const TCP_RTT_AVG_LOC: u16 = 265;
    /// `tcp_rtt_avg_in`.
    pub const TCP_RTT_AVG_IN: u16 = 266;
    /// `tcp_rtt_avg_out`.
    pub const TCP_RTT_AVG_OUT: u16 = 267;
    /// `tcp_rtt_min_s2c`.
    pub const TCP_RTT_MIN_S2C: u16 = 268;
    /// `tcp_rtt_min_c2s`.
    pub const TCP_RTT_MIN_C2S: u16 = 269;
    /// `tcp_rtt_min_loc`.
    pub const TCP_RTT_MIN_LOC: u16 = 270;
    /// `tcp_rtt_min_in`.
    pub const TCP_RTT_MIN_IN: u16 = 271;
    /// `tcp_rtt_min_out`.
    pub const TCP_RTT_MIN_OUT: u16 = 272;
    /// `tcp_cl_b_l_s2c`.
    pub const TCP_CL_B_L_S2C: u16 = 273;
    /// `tcp_cl_b_l_c2s`.
    pub const TCP_CL_B_L_C2S: u16 = 274;
    /// `tcp_cl_b_s_s2c`.
    pub const TCP_CL_B_S_S2C: u16 = 275;
    /// `tcp_cl_b_s_c2s`.
    pub const TCP_CL_B_S_C2S: u16 = 276;
    /// `tcp_cl_b_l_loc`.
    pub const TCP_CL_B_L_LOC: u16 = 277;
    /// `tcp_cl_b_l_in`.
    pub const TCP_CL_B_L_IN: u16 = 278;
    /// `tcp_cl_b_l_out`.
    pub const TCP_CL_B_L_OUT: u16 = 279;
    /// `tcp_cl_b_s_loc`.
    pub const TCP_CL_B_S_LOC: u16 = 280;
    /// `tcp_cl_b_s_in`.
    pub const TCP_CL_B_S_IN: u16 = 281;
    /// `tcp_cl_b_s_out`.
    pub const TCP_CL_B_S_OUT: u16 = 282;
    /// `tcp_cl_p_s2c`.
    pub const TCP_CL_P_S2C: u16 = 283;
    /// `tcp_cl_p_c2s`.
    pub const TCP_CL_P_C2S: u16 = 284;
    /// `tcp_cl_p_loc`.
    pub const TCP_CL_P_LOC: u16 = 285;
    /// `tcp_cl_p_in`.
    pub const TCP_CL_P_IN: u16 = 286;
    /// `tcp_cl_p_out`.
    pub const TCP_CL_P_OUT: u16 = 287;
    /// `tcp_cwnd`.
    pub const TCP_CWND: u16 = 288;
    /// `tcp_win_max`.
    pub const TCP_WIN_MAX: u16 = 289;
    /// `tcp_win_avg`.
    pub const TCP_WIN_AVG: u16 = 290;
    /// `tcp_win_ini`.
    pub const TCP_WIN_INI: u16 = 291;
    /// `tcp_mss_used`.
    pub const TCP_MSS_USED: u16 = 292;
    /// `tcp_mss_b`.
    pub const TCP_MSS_B: u16 = 293;
    /// `tcp_mss_a`.
    pub const TCP_MSS_A: u16 = 294;
    /// `tcp_opts_MPTCP`.
    pub const TCP_OPTS_MPTCP: u16 = 295;
    /// `tcp_opts_TS`.
    pub const TCP_OPTS_TS: u16 = 296;
    /// `tcp_opts_WS`.
    pub const TCP_OPTS_WS: u16 = 297;
    /// `tcp_opts_SACK`.
    pub const TCP_OPTS_SACK: u16 = 298;
    /// `tcp_bitrate_nc_out`.
    pub const TCP_BITRATE_NC_OUT: u16 = 299;
    /// `tcp_bitrate_nc_in`.
    pub const TCP_BITRATE_NC_IN: u16 = 300;
    /// `tcp_bitrate_c_out`.
    pub const TCP_BITRATE_C_OUT: u16 = 301;
    /// `tcp_bitrate_c_in`.
    pub const TCP_BITRATE_C_IN: u16 = 302;
    /// `tcp_bitrate_loc`.
    pub const TCP_BITRATE_LOC: u16 = 303;
    /// `tcp_bitrate_out`.
    pub const TCP_BITRATE_OUT: u16 = 304;
    /// `tcp_bitrate_in`.
    pub const TCP_BITRATE_IN: u16 = 305;
    /// `tcp_port_syndst_loc`.
    pub const TCP_PORT_SYNDST_LOC: u16 = 306;
    /// `tcp_port_syndst_out`.
    pub const TCP_PORT_SYNDST_OUT: u16 = 307;
    /// `tcp_port_syndst_in`.
    pub const TCP_PORT_SYNDST_IN: u16 = 308;
    /// `tcp_port_synsrc_loc`.
    pub const TCP_PORT_SYNSRC_LOC: u16 = 309;
    /// `tcp_port_synsrc_out`.
    pub const TCP_PORT_SYNSRC_OUT: u16 = 310;
    /// `tcp_port_synsrc_in`.
    pub const TCP_PORT_SYNSRC_IN: u16 = 311;
    /// `tcp_port_dst_loc`.
    pub const TCP_PORT_DST_LOC: u16 = 312;
    /// `tcp_port_dst_out`.
    pub const TCP_PORT_DST_OUT: u16 = 313;
    /// `tcp_port_dst_in`.
    pub const TCP_PORT_DST_IN: u16 = 314;
    /// `tcp_port_src_loc`.
    pub const TCP_PORT_SRC_LOC: u16 = 315;
    /// `tcp_port_src_out`.
    pub const TCP_PORT_SRC_OUT: u16 = 316;
    /// `tcp_port_src_in`.
    pub const TCP_PORT_SRC_IN: u16 = 317;
    /// `icmpv6_type_out`.
    pub const ICMPV6_TYPE_OUT: u16 = 318;
    /// `icmpv6_type_loc`.
    pub const ICMPV6_TYPE_LOC: u16 = 319;
    /// `icmpv6_type_in`.
    pub const ICMPV6_TYPE_IN: u16 = 320;
    /// `ip6_plen_loc`.
    pub const IP6_PLEN_LOC: u16 = 321;
    /// `ip6_hop_limit_loc`.
    pub const IP6_HOP_LIMIT_LOC: u16 = 322;
    /// `ip6_protocol_loc`.
    pub const IP6_PROTOCOL_LOC: u16 = 323;
    /// `ip6_plen_out`.
    pub const IP6_PLEN_OUT: u16 = 324;
    /// `ip6_hop_limit_out`.
    pub const IP6_HOP_LIMIT_OUT: u16 = 325;
    /// `ip6_protocol_out`.
    pub const IP6_PROTOCOL_OUT: u16 = 326;
    /// `ip6_plen_in`.
    pub const IP6_PLEN_IN: u16 = 327;
    /// `ip6_hop_limit_in`.
    pub const IP6_HOP_LIMIT_IN: u16 = 328;
    /// `ip6_protocol_in`.
    pub const IP6_PROTOCOL_IN: u16 = 329;
    /// `ip_tos_loc`.
    pub const IP_TOS_LOC: u16 = 330;
    /// `ip_tos_in`.
    pub const IP_TOS_IN: u16 = 331;
    /// `ip_tos_out`.
    pub const IP_TOS_OUT: u16 = 332;
    /// `ip_ttl_loc`.
    pub const IP_TTL_LOC: u16 = 333;
    /// `ip_ttl_in`.
    pub const IP_TTL_IN: u16 = 334;
    /// `ip_ttl_out`.
    pub const IP_TTL_OUT: u16 = 335;
    /// `ip_len_loc`.
    pub const IP_LEN_LOC: u16 = 336;
    /// `ip_len_in`.
    pub const IP_LEN_IN: u16 = 337;
    /// `ip_len_out`.
    pub const IP_LEN_OUT: u16 = 338;
    /// `ip_bitrate_nc_out`.
    pub const IP_BITRATE_NC_OUT: u16 = 339;
    /// `ip_bitrate_nc_in`.
    pub const IP_BITRATE_NC_IN: u16 = 340;
    /// `ip_bitrate_c_out`.
    pub const IP_BITRATE_C_OUT: u16 = 341;
    /// `ip_bitrate_c_in`.
    pub const IP_BITRATE_C_IN: u16 = 342;
    /// `ip_bitrate_loc`.
    pub const IP_BITRATE_LOC: u16 = 343;
    /// `ip_bitrate_out`.
    pub const IP_BITRATE_OUT: u16 = 344;
    /// `ip_bitrate_in`.
    pub const IP_BITRATE_IN: u16 = 345;
    /// `ip_protocol_loc`.
    pub const IP_PROTOCOL_LOC: u16 = 346;
    /// `ip_protocol_out`.
    pub const IP_PROTOCOL_OUT: u16 = 347;
    /// `ip_protocol_in`.
    pub const IP_PROTOCOL_IN: u16 = 348;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_histogram_and_the_ids_match_the_names() {
        let d = all();
        assert_eq!(d.len(), COUNT);
        assert_eq!(d[id::IP_LEN_LOC as usize].name, "ip_len_loc");
        assert_eq!(d[id::TCP_PORT_SRC_IN as usize].name, "tcp_port_src_in");
        assert_eq!(d[id::PROFILE_TRASH as usize].name, "profile_trash");
        assert_eq!(d[id::IP_PROTOCOL_IN as usize].name, "ip_protocol_in");
        assert_eq!(d[id::TCP_NET_DUP_LOC as usize].name, "tcp_net_dup_out");
        assert!(d[id::TCP_NET_DUP_LOC as usize]
            .descr
            .ends_with("local flows"));
        assert_eq!(d[id::TCP_NET_DUP_OUT as usize].name, "tcp_net_dup_out");
        assert!(d[id::TCP_NET_DUP_OUT as usize]
            .descr
            .ends_with("outgoing flows"));
        assert_eq!(find("tcp_net_dup_out"), Some(id::TCP_NET_DUP_LOC));
        // Trailing spaces of the descriptions are kept (Tstat prints them).
        assert_eq!(
            d[id::L7_TLS_NUM_IN as usize].descr,
            "Number of tracked TLS flows - incoming flows "
        );
        for (i, def) in d.iter().enumerate() {
            assert_eq!(
                def.min + i64::from(def.columns()) * def.bin_size,
                def.max,
                "{i}"
            );
        }
    }

    #[test]
    fn binning_follows_add_histo() {
        let d = &all()[id::IP_LEN_LOC as usize]; // 0..1504 step 4
        assert_eq!((d.bin_of(0.0), d.label(1)), (1, 0));
        assert_eq!(d.bin_of(3.9), 1);
        assert_eq!(d.bin_of(4.0), 2);
        assert_eq!(d.bin_of(1503.0), 376);
        assert_eq!(d.label(376), 1500);
        assert_eq!(d.bin_of(1504.0), 377);
        assert_eq!(d.label(377), 1504, "values at or above max print as max");
        assert_eq!(d.bin_of(-1.0), 0);
        assert_eq!(d.label(0), -4, "values below min print as min - bin_size");
        let o = &all()[id::TCP_OPTS_SACK as usize]; // 1..4 step 1
        assert_eq!((o.bin_of(1.0), o.label(1)), (1, 1));
        assert_eq!((o.bin_of(4.0), o.label(4)), (4, 4));
        assert_eq!(o.bin_of(0.5), 0);
    }
}
