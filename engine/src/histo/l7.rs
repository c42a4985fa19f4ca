//! Layer-7 classes as the histograms index them: Tstat's `L7_FLOW_*` codes (`map_flow_type`
//! of `tcpL7.c`, `UDP_p2p_to_L7type` of `p2p.c`), the HTTP content classes folded by `YTMAP`,
//! the Web 2.0 categories of `map_http_to_web` and the video containers of `VIDEO_MAP`.

use crate::l7::tcp::con;

/// Tstat's `L7_FLOW_*` codes (the bins of `L7_TCP_num_*`, `L7_UDP_num_*`, `tcp_bitrate_*`,
/// `udp_bitrate_*`).
#[allow(missing_docs)]
pub mod flow {
    pub const HTTP: u8 = 0;
    pub const RTP: u8 = 1;
    pub const RTCP: u8 = 2;
    pub const ICY: u8 = 3;
    pub const RTSP: u8 = 4;
    pub const SKYPE_E2E: u8 = 5;
    pub const SKYPE_E2O: u8 = 6;
    pub const SKYPE_TCP: u8 = 7;
    pub const MSN: u8 = 8;
    pub const XMPP: u8 = 9;
    pub const YMSG: u8 = 10;
    pub const EDK: u8 = 11;
    pub const KAD: u8 = 12;
    pub const KADU: u8 = 13;
    pub const GNU: u8 = 14;
    pub const BIT: u8 = 15;
    pub const UTP: u8 = 16;
    pub const DC: u8 = 17;
    pub const SMTP: u8 = 25;
    pub const POP3: u8 = 26;
    pub const IMAP: u8 = 27;
    pub const OBF: u8 = 28;
    pub const PPLIVE: u8 = 29;
    pub const SOPCAST: u8 = 30;
    pub const TVANTS: u8 = 31;
    pub const SKYPE_SIG: u8 = 32;
    pub const SSL: u8 = 33;
    pub const OBF_KAD: u8 = 34;
    pub const KAZAA: u8 = 35;
    pub const DNS: u8 = 36;
    pub const SSH: u8 = 37;
    pub const RTMP: u8 = 38;
    pub const MSE: u8 = 39;
    pub const VOD: u8 = 40;
    pub const PPSTREAM: u8 = 41;
    pub const TEREDO: u8 = 42;
    pub const SIP: u8 = 43;
    pub const DTLS: u8 = 44;
    pub const QUIC: u8 = 45;
    pub const MTURN: u8 = 47;
    pub const UNKNOWN: u8 = 49;
}

/// IPP2P protocol numbers (`p2p_type / 100`) the TCP signatures produce.
const IPP2P_EDK: u32 = 1;
const IPP2P_BIT: u32 = 9;

/// Tstat's `map_flow_type`: the `L7_FLOW_*` class of a TCP flow from its `con_t` bits (the
/// last matching bit in Tstat's order wins) and its IPP2P code.
pub fn tcp_l7_type(con_t: u32, p2p_type: u32) -> u8 {
    let mut t = flow::UNKNOWN;
    let order: [(u32, u8); 16] = [
        (con::MSE, flow::MSE),
        (con::OBF, flow::OBF),
        // The RTMP bit only stays set on flows whose handshake sizes matched.
        (con::RTMP, flow::RTMP),
        (con::HTTP, flow::HTTP),
        (con::RTSP, flow::RTSP),
        (con::RTP, flow::RTP),
        (con::ICY, flow::ICY),
        (con::RTCP, flow::RTCP),
        (con::MSN, flow::MSN),
        (con::YMSG, flow::YMSG),
        (con::XMPP, flow::XMPP),
        (con::SMTP, flow::SMTP),
        (con::POP3, flow::POP3),
        (con::IMAP, flow::IMAP),
        (con::SSL, flow::SSL),
        (con::SSH, flow::SSH),
    ];
    for (bit, class) in order {
        if con_t & bit != 0 {
            t = class;
        }
    }
    if con_t & con::P2P != 0 {
        t = match p2p_type / 100 {
            IPP2P_EDK => flow::EDK,
            IPP2P_BIT => flow::BIT,
            _ => flow::UNKNOWN,
        };
    }
    if con_t & con::SKYPE != 0 {
        t = flow::SKYPE_TCP;
    }
    t
}

/// HTTP content classes (`enum http_content`).
mod http {
    pub const GET: u8 = 0;
    pub const POST: u8 = 1;
    pub const MSN: u8 = 2;
    pub const RTMPT: u8 = 3;
    pub const YOUTUBE_VIDEO: u8 = 4;
    pub const VIDEO_CONTENT: u8 = 5;
    pub const VIMEO: u8 = 6;
    pub const FACEBOOK: u8 = 10;
    pub const NETFLIX: u8 = 14;
    pub const YOUTUBE_SITE: u8 = 15;
    pub const SOCIAL: u8 = 16;
    pub const FLASHVIDEO: u8 = 17;
    pub const RAPIDSHARE: u8 = 8;
    pub const MEGAUPLOAD: u8 = 9;
    pub const MEDIAFIRE: u8 = 18;
    pub const HOTFILE: u8 = 19;
    pub const STORAGE: u8 = 20;
    pub const YOUTUBE_204: u8 = 21;
    pub const YOUTUBE_VIDEO204: u8 = 22;
    pub const YOUTUBE_SITE_DIRECT: u8 = 23;
    pub const YOUTUBE_SITE_EMBED: u8 = 24;
    pub const TWITTER: u8 = 25;
    pub const DROPBOX: u8 = 26;
}

/// Tstat's `YTMAP`: the HTTP class a flow counts under in `L7_HTTP_num_*` / `http_bitrate_*`.
pub fn http_index(http_data: u8) -> u32 {
    u32::from(match http_data {
        http::YOUTUBE_VIDEO204 | http::YOUTUBE_204 => http::YOUTUBE_VIDEO,
        http::YOUTUBE_SITE_DIRECT | http::YOUTUBE_SITE_EMBED => http::YOUTUBE_SITE,
        http::TWITTER => http::SOCIAL,
        http::DROPBOX => http::GET,
        x => x,
    })
}

/// Video containers (`enum video_content`) folded as Tstat's `VIDEO_MAP`: the payload's
/// container when known, else the announced one; 3GPP and OGG count as QuickTime.
pub fn video_index(content: u8, payload: u8) -> u32 {
    const NOT_DEFINED: u8 = 0;
    const V3GPP: u8 = 7;
    const OGG: u8 = 8;
    const QUICKTIME: u8 = 9;
    let class = if content == NOT_DEFINED {
        payload
    } else if payload == NOT_DEFINED {
        content
    } else {
        payload
    };
    u32::from(match class {
        V3GPP | QUICKTIME | OGG => QUICKTIME,
        c => c,
    })
}

/// Tstat's `map_video_flow_type`: an HTTP flow whose response announced or carried a video
/// container counts in the video histograms.
pub fn is_video_flow(con_t: u32, content: u8, payload: u8) -> bool {
    con_t & con::HTTP != 0 && (content != 0 || payload != 0)
}

/// Tstat's `map_http_to_web`: the Web 2.0 category (`web_bitrate_*`, `L7_WEB_num_*`).
pub fn web_index(http_data: u8, video: u32) -> u32 {
    const GET: u32 = 0;
    const POST: u32 = 1;
    const STORAGE: u32 = 2;
    const YOUTUBE: u32 = 3;
    const VIDEO: u32 = 4;
    const SOCIAL: u32 = 5;
    const OTHER: u32 = 6;
    const NETFLIX: u32 = 7;
    let h = http_index(http_data) as u8;
    if video == 0 {
        match h {
            http::GET => GET,
            http::POST => POST,
            http::MSN | http::RTMPT | http::FACEBOOK | http::SOCIAL | http::TWITTER => SOCIAL,
            http::YOUTUBE_VIDEO | http::YOUTUBE_VIDEO204 | http::YOUTUBE_204 => YOUTUBE,
            http::VIDEO_CONTENT | http::VIMEO | http::FLASHVIDEO => VIDEO,
            http::NETFLIX => NETFLIX,
            http::RAPIDSHARE
            | http::MEGAUPLOAD
            | http::MEDIAFIRE
            | http::HOTFILE
            | http::STORAGE => STORAGE,
            _ => OTHER,
        }
    } else {
        match h {
            http::MSN | http::RTMPT | http::FACEBOOK | http::SOCIAL | http::TWITTER => SOCIAL,
            http::YOUTUBE_VIDEO | http::YOUTUBE_VIDEO204 | http::YOUTUBE_204 => YOUTUBE,
            http::NETFLIX => NETFLIX,
            _ => VIDEO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_con_t_bit_in_tstat_order_wins() {
        assert_eq!(tcp_l7_type(0, 0), flow::UNKNOWN);
        assert_eq!(tcp_l7_type(con::HTTP, 0), flow::HTTP);
        assert_eq!(tcp_l7_type(con::HTTP | con::SSL, 0), flow::SSL);
        assert_eq!(tcp_l7_type(con::OBF | con::MSE, 0), flow::OBF);
        assert_eq!(tcp_l7_type(con::P2P | con::HTTP, 102), flow::EDK);
        assert_eq!(tcp_l7_type(con::P2P, 900), flow::BIT);
        assert_eq!(tcp_l7_type(con::FB0, 0), flow::UNKNOWN);
    }

    #[test]
    fn http_web_and_video_classes_fold_as_tstat() {
        assert_eq!(http_index(http::YOUTUBE_204), 4);
        assert_eq!(http_index(http::TWITTER), 16);
        assert_eq!(http_index(7), 7); // Wikipedia
        assert_eq!(web_index(7, 0), 6);
        assert_eq!(web_index(0, 0), 0);
        assert_eq!(web_index(0, 2), 4, "a GET that carried MP4 is video");
        assert_eq!(video_index(2, 0), 2);
        assert_eq!(video_index(7, 2), 2, "the payload wins");
        assert_eq!(video_index(0, 8), 9, "OGG counts as QuickTime");
        assert!(is_video_flow(con::HTTP, 0, 2));
        assert!(!is_video_flow(con::SSL, 2, 2));
    }
}
