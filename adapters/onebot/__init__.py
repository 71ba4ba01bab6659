"""What the OneBot-based adapters (QQ over v11, WeChat groups over v12) share, in the
stock adapter's own layout: connection hardening, the entry gate and shedding,
duplicate claims and frame validation. No platform package owns it."""
