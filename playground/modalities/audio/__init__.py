"""The audio modality: decoding of user files, clips, log-mel / MFCC / waveform preprocessing."""
