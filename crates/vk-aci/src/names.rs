//! ARM's syntax for the identifiers vk is configured with, as Azure checks
//! them (Azure's resource naming rules for `Microsoft.Resources`). Each check
//! returns `Err(reason)`, a sentence to put after the field's name
//! (`aci.resource_group: "rg." is not a resource group name …`).
//!
//! ```
//! use vk_aci::names;
//!
//! assert!(names::subscription_id("11111111-2222-3333-4444-555555555555").is_ok());
//! assert!(names::resource_group("my-rg(1)").is_ok());
//! assert!(names::resource_group("ends-with.").is_err());
//! assert!(names::region("westeurope").is_ok());
//! assert!(names::region("West Europe").is_err());
//! ```

/// A subscription ID: a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn subscription_id(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
        ))
    }
}

/// A resource group name: 1–90 letters, digits, '-', '_', '.', '(' and ')',
/// not ending with '.'.
pub fn resource_group(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars().count() <= 90
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
        && !s.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a resource group name (1-90 letters, digits, '-', '_', '.', '(' and ')', not ending with '.')"
        ))
    }
}

/// A region's programmatic name: lowercase letters and digits (`westeurope`).
pub fn region(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an Azure region name (lowercase letters and digits, e.g. \"westeurope\")"
        ))
    }
}

/// A subnet's resource ID (`/subscriptions/…/subnets/<name>`), as VNet
/// injection takes it.
pub fn subnet_id(s: &str) -> Result<(), String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("/subscriptions/") && lower.contains("/subnets/") {
        Ok(())
    } else {
        Err("must be a subnet resource ID (/subscriptions/…/subnets/<name>)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_have_five_hex_groups() {
        assert!(subscription_id("11111111-2222-3333-4444-555555555555").is_ok());
        assert!(subscription_id("11111111222233334444555555555555").is_err());
        assert!(subscription_id("1111111g-2222-3333-4444-555555555555").is_err());
    }

    #[test]
    fn resource_groups_follow_arms_rules() {
        assert!(resource_group(&"a".repeat(90)).is_ok());
        for bad in ["", "a/b", "rg.", &"a".repeat(91)] {
            assert!(resource_group(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subnets_are_resource_ids() {
        assert!(subnet_id("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a").is_ok());
        assert!(subnet_id("subnet-a").is_err());
    }
}
