//! Uses dbshm as a Rust dependency: writes a frame and reads it back.
use dbshm::ndarray::Array;
use dbshm::DoubleBufferedSharedMemory;

fn main() -> Result<(), dbshm::DbShmError> {
    let name = format!("dbshm-test-rust-consumer-{}", std::process::id());
    let shm = DoubleBufferedSharedMemory::<u8>::new(&name, (2, 3))?;
    shm.write(&Array::from_elem((2, 3), 7u8))?;
    let sum: u32 = shm.read()?.iter().map(|&x| u32::from(x)).sum();
    dbshm::unlink(&name)?;
    println!("ok {sum}");
    Ok(())
}
