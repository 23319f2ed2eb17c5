//! Integers as text, by hand: `to_string()` would bring `core::fmt`'s
//! formatting machinery into the wasm for a few digits.

/// `n` in decimal, e.g. `-42`.
pub fn decimal(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut text = String::with_capacity(21);
    if n < 0 {
        text.push('-');
    }
    for &digit in digits.get(at..).unwrap_or_default() {
        text.push(char::from(digit));
    }
    text
}

/// `n` with a thousands separator, e.g. `4,001`.
pub fn thousands(n: usize) -> String {
    let digits = decimal(n as i64);
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    // Digits before the first comma: 1 to 3.
    let mut until_comma = match digits.len() % 3 {
        0 => 3,
        rest => rest,
    };
    for digit in digits.chars() {
        if until_comma == 0 {
            text.push(',');
            until_comma = 3;
        }
        text.push(digit);
        until_comma -= 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_what_to_string_writes() {
        for n in [0, 7, -7, 10, 4001, -1_000_000, i64::MAX, i64::MIN] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn thousands_groups_by_three() {
        for (n, expected) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (4001, "4,001"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), expected);
        }
    }
}
