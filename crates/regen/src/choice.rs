//! Closed sets of named values (task, optimizer, blur, ...). Each such enum is spelled the
//! same way in config files, JSON and on the command line: by its serde name, which
//! [`named!`] also makes its `FromStr` and `Display`.

/// Implements `FromStr` (with an error that lists the choices) and `Display` for a
/// fieldless enum from its serde names.
macro_rules! named {
    ($t:ty, $what:literal, $choices:literal) => {
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
                    $crate::Error::arg(format!("unknown {} {s:?}: use {}", $what, $choices))
                })
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let v = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
                f.write_str(v.as_str().ok_or(std::fmt::Error)?)
            }
        }
    };
}

pub(crate) use named;

#[cfg(test)]
mod tests {
    use crate::corrupt::Task;
    use crate::train::{OptimizerKind, Schedule};

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for t in [Task::Denoise, Task::Inpaint, Task::Deblur] {
            assert_eq!(t.to_string().parse::<Task>().unwrap(), t);
        }
        assert_eq!("sgd".parse::<OptimizerKind>().unwrap(), OptimizerKind::Sgd);
        assert_eq!(Schedule::Cosine.to_string(), "cosine");
        let e = "paint".parse::<Task>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown task \"paint\": use denoise, inpaint, deblur or upscale"
        );
    }
}
