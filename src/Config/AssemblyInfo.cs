namespace BgpLb.Config;
