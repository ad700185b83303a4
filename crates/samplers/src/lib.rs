//! Where the randomness of a run is turned into numbers: initial laws of the particles and the data
//! distributions SGD samples from (synthetic laws and finite data sets read from files).

pub mod dataset;
pub mod file;
pub mod finite;
pub mod init;
pub mod isotropic;
pub mod teacher;

pub use dataset::{Column, ColumnSelection, Dataset, DatasetError, Sampling, read_configuration};
pub use file::{FileShape, data_file_shape, npy_header, regular_file_len};
pub use finite::FiniteSample;
pub use init::{Constant, Gaussian, TiltedGaussian, Uniform, initialize_blocks};
pub use isotropic::IsotropicGaussians;
pub use teacher::{Inputs, Teacher, TeacherStudent};
