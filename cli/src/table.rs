//! Tables for people: `dbshm list` and the demo's summary.

use comfy_table::{presets, Table};

/// Prints `rows` under `header` as left-aligned columns two spaces apart,
/// with no borders and no trailing spaces: the same in a terminal and in a
/// pipe, and easy to cut with `awk` or to split at two spaces.
///
/// comfy-table measures cells by their width on a terminal (a CJK
/// character takes two columns), so names in any script stay aligned.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    println!("{}", render(header, rows));
}

fn render<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut table = Table::new();
    // NOTHING: no border or separator at all; the gap between columns is
    // each cell's right padding. The cells are never wrapped (comfy-table's
    // default arrangement), so a row stays one line however wide.
    table.load_preset(presets::NOTHING).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    // The last column's padding, and the spaces after a short cell in it.
    table.trim_fmt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_two_spaces_apart_with_no_trailing_space() {
        let rows = [
            ["camera".to_owned(), "u8".to_owned(), "1".to_owned()],
            ["名前".to_owned(), "f32".to_owned(), "12".to_owned()],
        ];
        assert_eq!(
            render(&["NAME", "DTYPE", "FRAME"], &rows),
            "NAME    DTYPE  FRAME\n\
             camera  u8     1\n\
             名前    f32    12"
        );
    }
}
